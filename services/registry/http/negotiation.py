"""Content negotiation for manifests, as the reference does it.

A client that lists manifest types in ``Accept`` gets a stored manifest only in one of them: an
index it cannot read is swapped for its linux/amd64 image when the client reads images (old
docker clients), anything else is MANIFEST_UNKNOWN. A client that sends no Accept header, or a
wildcard, gets the manifest as stored (the reference 2.8 answers 404 there; that helps nobody).
"""

from __future__ import annotations

from services.registry.domain import mediatypes


def accepted_types(headers: list[str]) -> set[str] | None:
    """The media types the client named; None when it takes anything."""
    types: set[str] = set()
    for header in headers:
        for part in header.split(","):
            media_type = part.split(";", 1)[0].strip().lower()
            if media_type:
                types.add(media_type)
    if not types or "*/*" in types or "application/*" in types:
        return None
    if not types & set(mediatypes.MANIFEST_TYPES):
        return None  # e.g. only application/json: a generic client, not a manifest reader
    return types


def reads_images(accepted: set[str]) -> bool:
    return bool(accepted & set(mediatypes.IMAGE_TYPES))
