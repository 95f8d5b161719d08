"""The blob descriptor cache interface, shared by the in-memory and Redis caches.

A cache answers "what do we know about this blob?" without touching storage. It may forget
anything at any time, so every answer is a hint: ``None`` means "ask storage".
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from services.registry.domain.descriptors import Descriptor


class BlobDescriptorCache(ABC):
    kind: str = "abstract"

    @abstractmethod
    def get(self, digest: str) -> Descriptor | None:
        """The registry-wide descriptor of ``digest``, or None when unknown."""

    @abstractmethod
    def set(self, descriptor: Descriptor) -> None: ...

    @abstractmethod
    def set_repository_member(self, repo: str, descriptor: Descriptor) -> None:
        """Record that ``repo`` links the blob (and store its descriptor)."""

    @abstractmethod
    def is_repository_member(self, repo: str, digest: str) -> bool | None:
        """True when the cache knows ``repo`` links ``digest``; None when it does not know
        (the caller asks storage). The cache never claims a blob is *not* a member."""

    @abstractmethod
    def get_repository_descriptor(self, repo: str, digest: str) -> Descriptor | None:
        """The descriptor as ``repo`` sees it (its own media type), when ``repo`` is
        known to link the blob; None otherwise."""

    @abstractmethod
    def delete(self, digest: str) -> None: ...

    @abstractmethod
    def delete_repository_member(self, repo: str, digest: str) -> None: ...

    def close(self) -> None:
        """Release connections; the default has none."""
        return None
