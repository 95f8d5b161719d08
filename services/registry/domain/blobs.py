"""Blobs: the content store (``blobs/<alg>/<xx>/<hex>/data``) and each repository's links to it.

A blob is visible in a repository when the repository has a ``_layers`` link to it; the
content itself is shared. Descriptor lookups go through the optional blob descriptor cache.
"""

from __future__ import annotations

import logging
import time
from typing import Any, BinaryIO

from services.registry.domain import layout
from services.registry.domain.descriptors import Descriptor
from services.registry.domain.errors import RegistryError
from services.registry.storage.driver import PathNotFound, StorageDriver
from shared.logfmt import kv

log = logging.getLogger("registry.blobs")
_CACHE_WARNING_INTERVAL = 30.0  # one line per outage, not one per request


class BlobStore:
    def __init__(self, driver: StorageDriver, cache: Any = None):
        self.driver = driver
        self.cache = cache
        self._last_cache_warning = 0.0

    # ------------------------------------------------------------ cache, failing soft
    def _cache_call(self, method: str, *args: Any) -> Any:
        if self.cache is None:
            return None
        try:
            return getattr(self.cache, method)(*args)
        except Exception as exc:  # a cache outage must never fail a request
            now = time.monotonic()
            if now - self._last_cache_warning > _CACHE_WARNING_INTERVAL:
                self._last_cache_warning = now
                log.warning(kv("blob descriptor cache failed, using storage", operation=method,
                               error=exc))
            return None

    # ------------------------------------------------------------ global content
    def stat_content(self, digest: str) -> Descriptor | None:
        """The blob in the content store, whatever repository links it."""
        cached = self._cache_call("get", digest)
        if cached is not None:
            return cached
        try:
            info = self.driver.stat(layout.blob_data(digest))
        except PathNotFound:
            return None
        desc = Descriptor(digest=digest, size=info.size)
        self._cache_call("set", desc)
        return desc

    def read_content(self, digest: str) -> bytes:
        return self.driver.get_content(layout.blob_data(digest))

    # ------------------------------------------------------------ repository view
    def is_linked(self, repo: str, digest: str) -> bool:
        try:
            return self.driver.get_content(layout.layer_link(repo, digest)).decode().strip() == digest
        except (PathNotFound, UnicodeDecodeError):
            return False

    def stat(self, repo: str, digest: str) -> Descriptor:
        """The blob as seen from ``repo``: BLOB_UNKNOWN unless it is linked there.

        A cache hit still asks storage whether the link exists (one stat, against a read of
        the link and a stat of the data without the cache): the ``inmemory`` cache is one per
        worker process, so another worker or replica may have deleted the blob since, and a
        stale entry must not serve it or let it be mounted elsewhere."""
        member = self._cache_call("is_repository_member", repo, digest)
        if member is True:
            cached = self._cache_call("get", digest)
            if cached is not None:
                if self.driver.exists(layout.layer_link(repo, digest)):
                    return cached
                self._cache_call("delete_repository_member", repo, digest)
                raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
        if not self.is_linked(repo, digest):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
        desc = self.stat_content(digest)
        if desc is None:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
        self._cache_call("set_repository_member", repo, desc)
        return desc

    def open(self, repo: str, digest: str) -> tuple[Descriptor, BinaryIO]:
        desc = self.stat(repo, digest)
        try:
            return desc, self.driver.reader(layout.blob_data(digest))
        except PathNotFound:
            self._cache_call("delete", digest)
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest}) from None

    def link(self, repo: str, desc: Descriptor) -> None:
        self.driver.put_content(layout.layer_link(repo, desc.digest), desc.digest.encode())
        self._cache_call("set", desc)
        self._cache_call("set_repository_member", repo, desc)

    def unlink(self, repo: str, digest: str) -> Descriptor:
        desc = self.stat(repo, digest)
        try:
            self.driver.delete(layout.layer_link(repo, digest).rsplit("/", 1)[0])
        except PathNotFound:
            pass
        self._cache_call("delete_repository_member", repo, digest)
        return desc

    def mount(self, repo: str, digest: str, from_repo: str) -> Descriptor | None:
        """Link a blob ``from_repo`` has into ``repo``; None when ``from_repo`` lacks it."""
        try:
            desc = self.stat(from_repo, digest)
        except RegistryError:
            return None
        self.link(repo, desc)
        return desc
