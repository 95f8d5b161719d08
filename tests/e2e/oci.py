"""Small OCI images on disk (OCI image layouts) and ways to compare them.

Two builders: :func:`write_image` writes a layout by hand (random, incompressible layers, gzip or
plain tar) and :func:`umoci_image` lets umoci build one from files. :func:`read_image` walks a
layout from a tag to every blob it references, verifying each file against its digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def random_tar(size: int, name: str = "data.bin") -> bytes:
    """A tar archive holding one file of ``size`` random bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = 0
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


@dataclass(frozen=True)
class Image:
    """What one tag of a layout holds: the manifest bytes and every referenced blob."""

    manifest_digest: str
    manifest_media_type: str
    manifest: bytes
    blobs: dict[str, bytes]  # config and layers, by digest

    @property
    def manifest_json(self) -> dict:
        return json.loads(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [d["digest"] for d in self.manifest_json["layers"]]


def _write_blob(layout: Path, data: bytes) -> dict:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _add_to_index(layout: Path, descriptor: dict) -> None:
    index_path = layout / "index.json"
    if index_path.exists():
        index = json.loads(index_path.read_text())
    else:
        index = {"schemaVersion": 2, "manifests": []}
    tag = descriptor["annotations"][REF_NAME]
    index["manifests"] = [
        m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag
    ] + [descriptor]
    index_path.write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def write_image(
    layout: Path, tag: str, layer_sizes: list[int], *, gzip_layers: bool = True
) -> Image:
    """Write an image with one random layer per size into the layout ``layout`` under ``tag``."""
    layers, diff_ids, blobs = [], [], {}
    for i, size in enumerate(layer_sizes):
        tar = random_tar(size, name=f"layer{i}.bin")
        diff_ids.append(sha256(tar))
        data = gzip.compress(tar, mtime=0) if gzip_layers else tar
        desc = _write_blob(layout, data)
        blobs[desc["digest"]] = data
        layers.append({"mediaType": LAYER_GZIP if gzip_layers else LAYER_TAR, **desc})
    config = canonical_json({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/layer0.bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    config_desc = _write_blob(layout, config)
    blobs[config_desc["digest"]] = config
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **config_desc},
        "layers": layers,
    })
    manifest_desc = _write_blob(layout, manifest)
    _add_to_index(
        layout, {"mediaType": OCI_MANIFEST, **manifest_desc, "annotations": {REF_NAME: tag}}
    )
    return Image(manifest_desc["digest"], OCI_MANIFEST, manifest, blobs)


def umoci_image(umoci: str, layout: Path, tag: str, files: dict[str, bytes], work: Path) -> Image:
    """Let umoci build ``layout:tag``: one layer per file inserted (rootless, no daemon)."""
    run = lambda *args: subprocess.run([umoci, *args], check=True, capture_output=True)  # noqa: E731
    if not (layout / "index.json").exists():
        run("init", "--layout", str(layout))
    run("new", "--image", f"{layout}:{tag}")
    work.mkdir(parents=True, exist_ok=True)
    for dest, content in files.items():
        src = work / Path(dest).name
        src.write_bytes(content)
        run("insert", "--rootless", "--image", f"{layout}:{tag}", str(src), dest)
    run("config", "--image", f"{layout}:{tag}", "--config.cmd", "/bin/true")
    return read_image(layout, tag)


def read_image(layout: Path, tag: str) -> Image:
    """Read ``tag`` from a layout; raises if any blob's bytes do not match its digest."""
    index = json.loads((layout / "index.json").read_text())
    matches = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) == tag]
    if len(matches) != 1:
        raise LookupError(f"{layout}: {len(matches)} manifests tagged {tag!r}")
    desc = matches[0]
    manifest = read_blob(layout, desc["digest"])
    parsed = json.loads(manifest)
    blobs = {}
    for d in [parsed["config"], *parsed.get("layers", [])]:
        blobs[d["digest"]] = read_blob(layout, d["digest"])
        if len(blobs[d["digest"]]) != d["size"]:
            raise ValueError(f"{d['digest']}: size {len(blobs[d['digest']])} != {d['size']}")
    return Image(desc["digest"], desc["mediaType"], manifest, blobs)


def read_blob(layout: Path, digest: str) -> bytes:
    algo, hexpart = digest.split(":", 1)
    data = (layout / "blobs" / algo / hexpart).read_bytes()
    actual = f"{algo}:{hashlib.new(algo, data).hexdigest()}"
    if actual != digest:
        raise ValueError(f"blob {digest} in {layout} holds {actual}")
    return data


def write_index(layout: Path, tag: str, images: dict[str, Image]) -> bytes:
    """Tag an image index over already written images, keyed by ``os/arch`` platform."""
    manifests = []
    for platform, image in images.items():
        os_name, arch = platform.split("/")
        manifests.append({
            "mediaType": image.manifest_media_type,
            "digest": image.manifest_digest,
            "size": len(image.manifest),
            "platform": {"os": os_name, "architecture": arch},
        })
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    desc = _write_blob(layout, index)
    _add_to_index(layout, {"mediaType": OCI_INDEX, **desc, "annotations": {REF_NAME: tag}})
    return index
