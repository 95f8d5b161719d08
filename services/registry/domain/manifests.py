"""Manifests and tags: validation of what is pushed, and the reference's revision and tag links.

Manifest bytes are stored verbatim in the content store (their digest is the digest of these
bytes) and linked from ``_manifests/revisions``; a tag is a ``current/link`` to a revision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from services.registry.domain import layout, mediatypes
from services.registry.domain.blobs import BlobStore
from services.registry.domain.descriptors import Descriptor
from services.registry.domain.digests import (
    CANONICAL,
    digest_bytes,
    is_digest,
    parse_digest,
    split,
)
from services.registry.domain.errors import RegistryError
from services.registry.domain.manifest_cache import ParsedManifests
from services.registry.domain.manifest_urls import URLPolicy, fetched_elsewhere
from services.registry.domain.names import check_tag
from services.registry.storage.driver import PathNotFound, StorageDriver

MAX_MANIFEST_SIZE = 4 * 1024 * 1024
_GENERIC_CONTENT_TYPES = ("", "application/json", "application/octet-stream", "text/plain")


@dataclass(frozen=True)
class Manifest:
    """A stored manifest: its bytes, and what the registry read out of them."""

    digest: str
    media_type: str
    content: bytes
    references: tuple[str, ...] = ()
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.digest, self.size, self.media_type)


def _invalid(message: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail={"reason": message})


def _descriptor(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} is not a descriptor")
    digest = value.get("digest")
    if not isinstance(digest, str) or not is_digest(digest):
        raise _invalid(f"{where}.digest is missing or malformed")
    try:
        parse_digest(digest)
    except RegistryError:
        raise _invalid(f"{where}.digest uses an unsupported algorithm") from None
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}.size is missing or negative")
    if not isinstance(value.get("mediaType", ""), str):
        raise _invalid(f"{where}.mediaType is not a string")
    urls = value.get("urls")
    if urls is not None and (not isinstance(urls, list)
                             or not all(isinstance(u, str) for u in urls)):
        raise _invalid(f"{where}.urls is not a list of strings")
    return value


# What json.loads raises on bytes that are no JSON document it can read: RecursionError for
# nesting deeper than the interpreter's stack (100,000 "[" is 4 KiB of input).
JSON_ERRORS = (ValueError, UnicodeDecodeError, RecursionError)


def load_document(content: bytes) -> dict[str, Any]:
    """A manifest's JSON object; MANIFEST_INVALID for anything else."""
    try:
        doc = json.loads(content)
    except JSON_ERRORS:
        raise _invalid("not valid JSON") from None
    if not isinstance(doc, dict):
        raise _invalid("not a JSON object")
    return doc


def parse(content: bytes, digest: str, declared: str | None = None,
          doc: dict[str, Any] | None = None) -> Manifest:
    """Parse and check a manifest's structure (not whether what it references exists).
    ``doc``: the content's JSON object when the caller has loaded it already."""
    if doc is None:
        doc = load_document(content)
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    own = doc.get("mediaType")
    if own is not None and not isinstance(own, str):
        raise _invalid("mediaType is not a string")
    media_type = mediatypes.detect(doc, declared)
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise _invalid(f"unsupported manifest media type {media_type!r}")
    if not own and media_type in (mediatypes.DOCKER_MANIFEST, mediatypes.DOCKER_LIST):
        # Docker's formats require the field (the reference refuses them without it); stored
        # without it, the manifest would be read back as OCI, another type than was pushed.
        raise _invalid(f"a {media_type} manifest must carry its mediaType")
    if own and declared and declared not in _GENERIC_CONTENT_TYPES and own != declared:
        raise _invalid("mediaType does not match Content-Type")
    refs: list[str] = []
    if media_type in mediatypes.IMAGE_TYPES:
        config = _descriptor(doc.get("config"), "config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers is not a list")
        refs.append(config["digest"])
        refs.extend(_descriptor(layer, f"layers[{i}]")["digest"] for i, layer in enumerate(layers))
        artifact_type = doc.get("artifactType") or config.get("mediaType")
    else:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("manifests is not a list")
        refs.extend(_descriptor(c, f"manifests[{i}]")["digest"] for i, c in enumerate(children))
        artifact_type = doc.get("artifactType")
    subject = None
    if doc.get("subject") is not None:
        subject = _descriptor(doc["subject"], "subject")["digest"]
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise _invalid("annotations is not a map")
    return Manifest(digest=digest, media_type=media_type, content=content,
                    references=tuple(refs), subject=subject,
                    artifact_type=artifact_type if isinstance(artifact_type, str) else None,
                    annotations=annotations)


def _descriptors(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every descriptor of a parsed manifest, named as the error details name them."""
    found = []
    if isinstance(doc.get("config"), dict):
        found.append(("config", doc["config"]))
    for key in ("layers", "manifests"):
        found.extend((f"{key}[{i}]", d) for i, d in enumerate(doc.get(key) or []))
    if isinstance(doc.get("subject"), dict):
        found.append(("subject", doc["subject"]))
    return found


class ManifestStore:
    def __init__(self, driver: StorageDriver, blobs: BlobStore,
                 url_policy: URLPolicy | None = None):
        self.driver = driver
        self.blobs = blobs
        self.url_policy = url_policy or URLPolicy()
        self.parsed = ParsedManifests()

    # ------------------------------------------------------------ reading
    def _read_link(self, path: str) -> str | None:
        try:
            text = self.driver.get_content(path).decode().strip()
        except (PathNotFound, UnicodeDecodeError):
            return None
        return text if is_digest(text) else None

    def resolve(self, repo: str, reference: str) -> str:
        """The digest a tag or digest reference names in ``repo``; MANIFEST_UNKNOWN if none."""
        if ":" in reference:
            digest = parse_digest(reference)
        else:
            check_tag(reference)
            digest = self._read_link(layout.tag_current_link(repo, reference))
            if digest is None:
                raise RegistryError("MANIFEST_UNKNOWN", detail={"tag": reference})
        if self._read_link(layout.revision_link(repo, digest)) != digest:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": digest})
        return digest

    def exists(self, repo: str, digest: str) -> bool:
        return self._read_link(layout.revision_link(repo, digest)) == digest

    def get(self, repo: str, reference: str) -> Manifest:
        digest = self.resolve(repo, reference)  # the links, read every time
        manifest = self.parsed.get(digest)
        if manifest is not None:
            return manifest
        try:
            content = self.blobs.read_content(digest)
        except PathNotFound:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": digest}) from None
        try:
            manifest = parse(content, digest)
        except RegistryError:
            # Stored by someone else (schema1, an unknown type): still serve the bytes.
            manifest = Manifest(digest=digest, media_type=_sniff(content), content=content)
        self.parsed.put(manifest)
        return manifest

    def platform_child(self, repo: str, index: Manifest, os: str,
                       architecture: str) -> Manifest | None:
        try:
            children = json.loads(index.content).get("manifests") or []
        except JSON_ERRORS:
            return None
        for child in children:
            platform = child.get("platform") or {}
            if platform.get("os") == os and platform.get("architecture") == architecture:
                try:
                    return self.get(repo, child.get("digest", ""))
                except RegistryError:
                    return None
        return None

    # ------------------------------------------------------------ writing
    def put(self, repo: str, reference: str, content: bytes, content_type: str | None) -> Manifest:
        if len(content) > MAX_MANIFEST_SIZE:
            raise RegistryError("MANIFEST_TOO_LARGE", status=413,
                                detail={"size": len(content), "limit": MAX_MANIFEST_SIZE})
        tag = None
        if ":" in reference:
            expected = parse_digest(reference)
            algorithm, _ = split(expected)
            digest = digest_bytes(content, algorithm)
            if digest != expected:
                raise RegistryError("DIGEST_INVALID", detail={"expected": expected, "actual": digest})
        else:
            tag = check_tag(reference)
            digest = digest_bytes(content, CANONICAL)
        doc = load_document(content)  # read once: parsed and checked below
        manifest = parse(content, digest, content_type, doc)
        self._check_references(repo, manifest, doc)
        # In this order, written together: the content before the links that reach it, and
        # the tag last, once what it names is in place.
        files = []
        if self.blobs.stat_content(manifest.digest) is None:
            files.append((layout.blob_data(manifest.digest), manifest.content))
        files.append((layout.revision_link(repo, digest), digest.encode()))
        if manifest.subject:
            files.append((layout.referrer_link(repo, manifest.subject, digest), digest.encode()))
        if tag:
            files.append((layout.tag_index_link(repo, tag, digest), digest.encode()))
            files.append((layout.tag_current_link(repo, tag), digest.encode()))
        self.driver.put_contents(files)
        self.parsed.put(manifest)  # the pull that follows a push
        return manifest

    def _check_references(self, repo: str, manifest: Manifest, doc: dict[str, Any]) -> None:
        """What the manifest references is in the repository (MANIFEST_BLOB_UNKNOWN), but a
        foreign layer at URLs; then every URL it holds is one clients may be sent to."""
        self._check_present(repo, manifest, doc)
        self._check_urls(doc)

    def _check_present(self, repo: str, manifest: Manifest, doc: dict[str, Any]) -> None:
        if manifest.media_type in mediatypes.IMAGE_TYPES:
            missing = []
            # The config first: it is never fetched from elsewhere, whatever it says.
            for desc in [doc["config"], *doc.get("layers", [])]:
                if desc is not doc["config"] and fetched_elsewhere(desc):
                    continue
                try:
                    self.blobs.stat(repo, desc["digest"])
                except RegistryError:
                    missing.append(desc["digest"])
            if missing:
                raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digests": missing})
        else:
            missing = [c["digest"] for c in doc["manifests"] if not self.exists(repo, c["digest"])]
            if missing:
                # The reference's answer, which clients and conformance suites expect: a 400
                # (the push is at fault), not MANIFEST_UNKNOWN's 404.
                raise RegistryError("MANIFEST_BLOB_UNKNOWN", "manifest references unknown manifests",
                                    detail={"digests": missing})

    def _check_urls(self, doc: dict[str, Any]) -> None:
        for where, desc in _descriptors(doc):
            for i, url in enumerate(desc.get("urls") or []):
                refusal = self.url_policy.refusal(url)
                if refusal:
                    raise _invalid(f"{where}.urls[{i}]: {refusal}")

    def delete(self, repo: str, digest: str) -> tuple[Manifest, list[str]]:
        """Delete a revision and every tag pointing at it; returns the manifest and those tags."""
        manifest = self.get(repo, parse_digest(digest))
        removed_tags = [t for t in self.tags(repo) if self.tag_target(repo, t) == digest]
        for tag in removed_tags:
            self._delete_tree(layout.tag_dir(repo, tag))
        self._delete_tree(layout.revision_dir(repo, digest))
        if manifest.subject:
            self._delete_tree(layout.referrer_link(repo, manifest.subject, digest).rsplit("/", 1)[0])
        return manifest, removed_tags

    def _delete_tree(self, path: str) -> None:
        try:
            self.driver.delete(path)
        except PathNotFound:
            pass

    # ------------------------------------------------------------ tags
    def tag_target(self, repo: str, tag: str) -> str | None:
        return self._read_link(layout.tag_current_link(repo, tag))

    def tags(self, repo: str) -> list[str]:
        """Sorted tags of ``repo``; NAME_UNKNOWN when it has no tag folder at all."""
        try:
            children = self.driver.list(layout.tags(repo))
        except PathNotFound:
            raise RegistryError("NAME_UNKNOWN", detail={"name": repo}) from None
        return sorted(c.rsplit("/", 1)[-1] for c in children)

    def delete_tag(self, repo: str, tag: str) -> str:
        check_tag(tag)
        digest = self.tag_target(repo, tag)
        if digest is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"tag": tag})
        self._delete_tree(layout.tag_dir(repo, tag))
        return digest

    # ------------------------------------------------------------ referrers
    def referrers(self, repo: str, subject: str, artifact_type: str | None = None) -> list[dict]:
        subject = parse_digest(subject)
        try:
            algorithms = self.driver.list(layout.referrers_dir(repo, subject))
        except PathNotFound:
            return []
        out = []
        for alg_dir in algorithms:
            algorithm = alg_dir.rsplit("/", 1)[-1]
            for entry in self.driver.list(alg_dir):
                digest = f"{algorithm}:{entry.rsplit('/', 1)[-1]}"
                if not self.exists(repo, digest):
                    continue  # deleted since; the link is stale
                try:
                    m = self.get(repo, digest)
                except RegistryError:
                    continue
                if artifact_type and m.artifact_type != artifact_type:
                    continue
                desc: dict[str, Any] = {"mediaType": m.media_type, "digest": m.digest,
                                        "size": m.size}
                if m.artifact_type:
                    desc["artifactType"] = m.artifact_type
                if m.annotations:
                    desc["annotations"] = m.annotations
                out.append(desc)
        return sorted(out, key=lambda d: d["digest"])


def _sniff(content: bytes) -> str:
    try:
        doc = json.loads(content)
    except JSON_ERRORS:
        return "application/octet-stream"
    if isinstance(doc, dict):
        return mediatypes.detect(doc) or "application/json"
    return "application/json"
