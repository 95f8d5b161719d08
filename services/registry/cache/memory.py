"""The ``inmemory`` blob descriptor cache: per-process, LRU-bounded, thread-safe.

The reference uses an ARC cache; an LRU gives the same guarantee that matters here (memory is
bounded by ``blobdescriptorsize`` entries) with less machinery. Descriptors and repository
memberships are two separate LRUs of that size each, so a burst of pulls in one repository
cannot evict the registry-wide descriptors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from services.registry.cache.base import BlobDescriptorCache
from services.registry.domain.descriptors import Descriptor
from services.registry.metrics import CACHE_HITS, CACHE_REQUESTS

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A thread-safe least-recently-used map; ``capacity`` <= 0 means unbounded."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if self.capacity > 0:
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items


class InMemoryBlobDescriptorCache(BlobDescriptorCache):
    kind = "inmemory"

    def __init__(self, size: int = 10000):
        self.descriptors: LRU[str, Descriptor] = LRU(size)
        # (repo, digest) -> the media type as that repository sees the blob
        self.members: LRU[tuple[str, str], str] = LRU(size)

    def get(self, digest: str) -> Descriptor | None:
        CACHE_REQUESTS.inc()
        found = self.descriptors.get(digest)
        if found is not None:
            CACHE_HITS.inc()
        return found

    def set(self, descriptor: Descriptor) -> None:
        self.descriptors.put(descriptor.digest, descriptor)

    def set_repository_member(self, repo: str, descriptor: Descriptor) -> None:
        self.members.put((repo, descriptor.digest), descriptor.media_type)
        self.set(descriptor)

    def is_repository_member(self, repo: str, digest: str) -> bool | None:
        CACHE_REQUESTS.inc()
        if self.members.get((repo, digest)) is None:
            return None
        CACHE_HITS.inc()
        return True

    def get_repository_descriptor(self, repo: str, digest: str) -> Descriptor | None:
        CACHE_REQUESTS.inc()
        media_type = self.members.get((repo, digest))
        found = self.descriptors.get(digest) if media_type is not None else None
        if found is None:
            return None
        CACHE_HITS.inc()
        return Descriptor(found.digest, found.size, media_type)

    def delete(self, digest: str) -> None:
        self.descriptors.pop(digest)

    def delete_repository_member(self, repo: str, digest: str) -> None:
        self.members.pop((repo, digest))
