"""Parsed manifests of this process, by digest: a manifest GET reads its tag and revision
links (whether it is still there) but not the manifest's bytes again, nor parses them again.

A digest names one content forever, so an entry never goes stale; whether the manifest is still
in a repository is the revision link's to say, and :meth:`ManifestStore.get` reads it on every
request, so a manifest deleted by another worker, replica or garbage collection is a 404 here
too. Bounded by entries and by bytes; the least recently used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.registry.domain.manifests import Manifest

MAX_ENTRIES = 1024
MAX_BYTES = 16 << 20


class ParsedManifests:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Manifest] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, digest: str) -> Manifest | None:
        with self._lock:
            manifest = self._entries.get(digest)
            if manifest is not None:
                self._entries.move_to_end(digest)
            return manifest

    def put(self, manifest: Manifest) -> None:
        if manifest.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(manifest.digest, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[manifest.digest] = manifest
            self._bytes += manifest.size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
