"""Manifest media types the registry stores, and how to tell them apart."""

from __future__ import annotations

from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = IMAGE_TYPES + INDEX_TYPES


def detect(doc: dict[str, Any], declared: str | None = None) -> str | None:
    """The media type of a parsed manifest: its own ``mediaType`` field, else the one the
    client declared, else what its shape says (OCI allows leaving the field out)."""
    own = doc.get("mediaType")
    if isinstance(own, str) and own:
        return own
    if declared and declared in MANIFEST_TYPES:
        return declared
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc:
        return OCI_MANIFEST
    return declared
