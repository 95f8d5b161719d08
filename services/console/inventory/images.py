"""One repository's tags as the console shows them: each manifest or index by platform, with
its layers, sizes, config and referrers (signatures, SBOMs, attestations)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from services.console.history import History
from services.console.inventory.store import ContentCache, pool
from services.console.registry.client import RegistryCalls, RegistryError

INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}
IMAGE_CONFIG_TYPES = {"application/vnd.oci.image.config.v1+json",
                      "application/vnd.docker.container.image.v1+json"}
CONFIG_LIMIT = 1 << 20  # configs larger than this are described, not read
CONFIG_PREVIEW = 2048


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class ImageConfig:
    digest: str
    media_type: str
    size: int
    created: str | None = None
    os: str | None = None
    architecture: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    preview: str | None = None  # the start of a config that is not an image's (an artifact's)


@dataclass(frozen=True)
class Image:
    """One manifest: a platform's image, an attestation, or an artifact."""

    digest: str
    media_type: str
    size: int
    platform: str
    kind: str  # "image" | "attestation" | "artifact"
    artifact_type: str | None
    config: ImageConfig | None
    layers: tuple[Layer, ...]

    @property
    def total_size(self) -> int:
        return self.size + (self.config.size if self.config else 0) + sum(
            layer.size for layer in self.layers)


@dataclass(frozen=True)
class Referrer:
    digest: str
    media_type: str
    artifact_type: str
    size: int
    kind: str  # "signature" | "sbom" | "attestation" | "artifact"
    annotations: dict[str, str]


@dataclass(frozen=True)
class TagView:
    name: str
    digest: str
    media_type: str
    size: int  # the manifest's, its configs' and layers' bytes, each blob once
    images: tuple[Image, ...]
    referrers: tuple[Referrer, ...]
    shared_with: tuple[str, ...]  # other tags naming the same digest
    pushed: str | None  # the latest push (RFC 3339 UTC), from the delivery history
    created: str | None  # the newest image config's "created"

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class _Stored:
    digest: str
    media_type: str
    size: int
    doc: dict[str, Any]


def _manifest(calls: RegistryCalls, cache: ContentCache, repo: str, digest: str) -> _Stored:
    found = cache.get("manifest", repo, digest)
    if found is None:
        fetched = calls.manifest(repo, digest)
        doc = json.loads(fetched.content)
        found = _Stored(digest, fetched.media_type or doc.get("mediaType", ""),
                        len(fetched.content), doc)
        cache.put("manifest", repo, digest, found)
    return found


def _config(calls: RegistryCalls, cache: ContentCache, repo: str,
            desc: dict[str, Any]) -> ImageConfig:
    digest, media_type, size = desc.get("digest", ""), desc.get("mediaType", ""), \
        int(desc.get("size") or 0)
    found = cache.get("config", repo, digest)
    if found is not None:
        return found
    config = ImageConfig(digest=digest, media_type=media_type, size=size)
    if size <= CONFIG_LIMIT and size > 2:  # "{}" (an empty artifact config) says nothing
        data = calls.blob_head(repo, digest, CONFIG_LIMIT)
        if data is not None:
            config = _read_config(config, data)
    cache.put("config", repo, digest, config)
    return config


def _read_config(config: ImageConfig, data: bytes) -> ImageConfig:
    if config.media_type not in IMAGE_CONFIG_TYPES:
        return ImageConfig(digest=config.digest, media_type=config.media_type, size=config.size,
                           preview=data[:CONFIG_PREVIEW].decode("utf-8", "replace"))
    try:
        doc = json.loads(data)
    except ValueError:
        return config
    inner = doc.get("config") or {}
    labels = inner.get("Labels") or {}
    return ImageConfig(
        digest=config.digest, media_type=config.media_type, size=config.size,
        created=doc.get("created"), os=doc.get("os"), architecture=doc.get("architecture"),
        entrypoint=inner.get("Entrypoint"), cmd=inner.get("Cmd"), user=inner.get("User") or None,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )


def _platform(entry: dict[str, Any] | None, config: ImageConfig | None) -> str:
    p = (entry or {}).get("platform") or {}
    parts = [p.get("os"), p.get("architecture"), p.get("variant")]
    if not p and config is not None:
        parts = [config.os, config.architecture]
    return "/".join(x for x in parts if x) or "unknown"


def _image(calls: RegistryCalls, cache: ContentCache, repo: str, stored: _Stored,
           entry: dict[str, Any] | None = None) -> Image:
    doc = stored.doc
    config_desc = doc.get("config")
    config = _config(calls, cache, repo, config_desc) if isinstance(config_desc, dict) else None
    annotations = (entry or {}).get("annotations") or {}
    artifact_type = doc.get("artifactType") or (
        config.media_type if config and config.media_type not in IMAGE_CONFIG_TYPES else None)
    if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        kind = "attestation"
    elif artifact_type:
        kind = "artifact"
    else:
        kind = "image"
    layers = tuple(Layer(d.get("digest", ""), d.get("mediaType", ""), int(d.get("size") or 0))
                   for d in doc.get("layers") or [] if isinstance(d, dict))
    return Image(digest=stored.digest, media_type=stored.media_type, size=stored.size,
                 platform=_platform(entry, config), kind=kind, artifact_type=artifact_type,
                 config=config, layers=layers)


def _images(calls: RegistryCalls, cache: ContentCache, repo: str,
            digest: str) -> tuple[_Stored, tuple[Image, ...]]:
    top = _manifest(calls, cache, repo, digest)
    if top.media_type not in INDEX_TYPES:
        return top, (_image(calls, cache, repo, top),)
    images = []
    for entry in top.doc.get("manifests") or []:
        try:
            child = _manifest(calls, cache, repo, entry.get("digest", ""))
        except RegistryError:
            continue  # a child this registry does not hold (e.g. a platform not copied)
        images.append(_image(calls, cache, repo, child, entry))
    return top, tuple(images)


def referrer_kind(artifact_type: str) -> str:
    t = artifact_type.lower()
    if "signature" in t or t.endswith(".sig") or ".sig." in t:
        return "signature"
    if "spdx" in t or "cyclonedx" in t or "sbom" in t:
        return "sbom"
    if "in-toto" in t or "attestation" in t or "provenance" in t:
        return "attestation"
    return "artifact"


def _referrers(calls: RegistryCalls, repo: str, digest: str) -> tuple[Referrer, ...]:
    out = []
    for d in calls.referrers(repo, digest):
        artifact_type = d.get("artifactType") or d.get("mediaType") or ""
        out.append(Referrer(digest=d.get("digest", ""), media_type=d.get("mediaType", ""),
                            artifact_type=artifact_type, size=int(d.get("size") or 0),
                            kind=referrer_kind(artifact_type),
                            annotations=dict(d.get("annotations") or {})))
    return tuple(out)


def unique_size(digest: str, size: int, images: tuple[Image, ...]) -> int:
    """The bytes a tag holds: its manifest, and each child manifest, config and layer once."""
    blobs = {digest: size}
    for image in images:
        blobs[image.digest] = image.size
        if image.config:
            blobs[image.config.digest] = image.config.size
        for layer in image.layers:
            blobs[layer.digest] = layer.size
    return sum(blobs.values())


def sort_tags(tags: list[TagView]) -> list[TagView]:
    """Newest push first (from the history: RFC 3339 UTC strings of one form, which sort as
    times); then newest image (config ``created``); then by name. Without a history every
    ``pushed`` is None and the image dates decide."""
    ordered = sorted(tags, key=lambda t: t.name)
    ordered.sort(key=lambda t: t.created or "", reverse=True)
    ordered.sort(key=lambda t: t.pushed or "", reverse=True)
    return ordered


def describe_tags(calls: RegistryCalls, cache: ContentCache, history: History, repo: str,
                  tags: list[str]) -> list[TagView]:
    """Every tag of ``tags`` described, newest first. The registry is asked side by side."""
    refs = dict(zip(tags, pool().map(lambda t: calls.manifest_ref(repo, t), tags), strict=True))
    digests = sorted({r.digest for r in refs.values()})
    built = dict(zip(digests, pool().map(lambda d: _images(calls, cache, repo, d), digests),
                     strict=True))
    referrers = dict(zip(digests, pool().map(lambda d: _referrers(calls, repo, d), digests),
                         strict=True))
    pushes = history.tag_pushes_or_none(repo) or {}
    by_digest: dict[str, list[str]] = defaultdict(list)
    for tag, ref in refs.items():
        by_digest[ref.digest].append(tag)
    views = []
    for tag, ref in refs.items():
        top, images = built[ref.digest]
        created = max((i.config.created for i in images if i.config and i.config.created),
                      default=None)
        views.append(TagView(
            name=tag, digest=ref.digest, media_type=top.media_type,
            size=unique_size(top.digest, top.size, images), images=images, referrers=referrers[ref.digest],
            shared_with=tuple(t for t in sorted(by_digest[ref.digest]) if t != tag),
            pushed=pushes.get(tag), created=created))
    return sort_tags(views)


def _descriptor_sizes(doc: dict[str, Any]) -> dict[str, int]:
    """The config's and layers' digests and sizes, as a manifest's descriptors give them."""
    found = {}
    for desc in [doc.get("config"), *(doc.get("layers") or [])]:
        if isinstance(desc, dict) and desc.get("digest"):
            found[desc["digest"]] = int(desc.get("size") or 0)
    return found


def repository_size(calls: RegistryCalls, cache: ContentCache, repo: str,
                    tags: list[str]) -> int:
    """Every blob and manifest the repository's tags reach, each once: one manifest GET per tag
    (by tag: it names its digest), children of an index from the cache once read; sizes from
    the descriptors, so no config is read. Called from a pool task: it asks in turn."""
    blobs: dict[str, int] = {}
    for tag in tags:
        fetched = calls.manifest(repo, tag)
        top = cache.get("manifest", repo, fetched.digest)
        if top is None:
            doc = json.loads(fetched.content)
            top = _Stored(fetched.digest, fetched.media_type or doc.get("mediaType", ""),
                          len(fetched.content), doc)
            cache.put("manifest", repo, fetched.digest, top)
        blobs[top.digest] = top.size
        children = [top]
        if top.media_type in INDEX_TYPES:
            children = []
            for entry in top.doc.get("manifests") or []:
                try:
                    children.append(_manifest(calls, cache, repo, entry.get("digest", "")))
                except RegistryError:
                    continue  # a platform this registry does not hold
        for child in children:
            blobs[child.digest] = child.size
            blobs.update(_descriptor_sizes(child.doc))
    return sum(blobs.values())


def tags_sharing(calls: RegistryCalls, repo: str, tag: str) -> tuple[str, list[str]]:
    """``tag``'s digest and the other tags of ``repo`` naming the same one."""
    digest = calls.manifest_ref(repo, tag).digest
    others = [t for t in calls.tags(repo) if t != tag]
    refs = pool().map(lambda t: calls.manifest_ref(repo, t).digest, others)
    return digest, sorted(t for t, d in zip(others, refs, strict=True) if d == digest)
