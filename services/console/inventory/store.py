"""Content the console has read, kept by (repository, digest): a digest names its bytes
forever, so a manifest or config read once never needs reading again. Keyed by repository too,
so an entry is only used after the user was allowed to list that repository's tags."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Calls to the registry made side by side while one page is built.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console-registry")


def pool() -> ThreadPoolExecutor:
    return _pool


class ContentCache:
    def __init__(self, entries: int = 4096):
        self._entries = entries
        self._data: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kind: str, repository: str, digest: str) -> Any | None:
        key = (kind, repository, digest)
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, kind: str, repository: str, digest: str, value: Any) -> None:
        with self._lock:
            self._data[(kind, repository, digest)] = value
            self._data.move_to_end((kind, repository, digest))
            while len(self._data) > self._entries:
                self._data.popitem(last=False)


class TimedCache:
    """Answers kept for ``ttl`` seconds (the catalog, its pages, repository summaries): what
    changes behind the console's back (a push elsewhere) shows within ``ttl``."""

    def __init__(self, ttl: float = 30.0, entries: int = 4096):
        self.ttl = ttl
        self._entries = entries
        self._data: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return found[1]

    def put(self, key: tuple, value: Any) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self._entries:
                self._data.popitem(last=False)

    def drop(self, matches: Callable[[tuple], bool]) -> None:
        with self._lock:
            for key in [k for k in self._data if matches(k)]:
                del self._data[key]
