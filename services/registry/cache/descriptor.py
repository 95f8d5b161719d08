"""What the blob descriptor cache stores about a blob. The registry domain imports
:class:`Descriptor` from here, so the cache depends on nothing above it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Descriptor:
    digest: str
    size: int
    media_type: str
