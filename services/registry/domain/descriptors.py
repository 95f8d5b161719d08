"""What the registry knows about one blob or manifest without reading it."""

from __future__ import annotations

from dataclasses import dataclass

BLOB_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Descriptor:
    digest: str
    size: int
    media_type: str = BLOB_MEDIA_TYPE
