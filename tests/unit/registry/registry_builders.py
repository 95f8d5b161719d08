"""Small builders for registry unit tests: blobs and manifests with real digests."""

from __future__ import annotations

import hashlib
import json

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def descriptor(data: bytes, media_type: str) -> dict:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data)}


def image_manifest(config: bytes, layers: list[bytes], subject: dict | None = None,
                   artifact_type: str | None = None, annotations: dict | None = None) -> bytes:
    doc: dict = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [descriptor(layer, "application/vnd.oci.image.layer.v1.tar") for layer in layers],
    }
    if subject:
        doc["subject"] = subject
    if artifact_type:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc).encode()


def index(children: list[bytes]) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(c, OCI_MANIFEST) for c in children],
    }).encode()
