"""Content the console has read, kept by (repository, digest): a digest names its bytes
forever, so a manifest or config read once never needs reading again. Keyed by repository too,
so an entry is only used after the user was allowed to list that repository's tags."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.logfmt import kv

log = logging.getLogger("console.cache")

# Calls to the registry made side by side while one page is built.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console-registry")
# Refreshes of kept answers, off the requests' way.
_refresher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="console-refresh")


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
    """Answers kept for ``ttl`` seconds (the catalog, its pages, repository summaries), then
    served while one background load refreshes them, up to ``stale`` seconds old: a person
    browsing never waits for the registry twice for the same thing, and what changes behind the
    console's back (a push elsewhere) shows on the next look after ``ttl``."""

    def __init__(self, ttl: float = 30.0, stale: float = 300.0, entries: int = 4096):
        self.ttl = ttl
        self.stale = stale
        self._entries = entries
        self._data: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._loading: set[tuple] = set()
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], Any]) -> Any:
        """The value for ``key``: kept, or kept and refreshed in the background, or loaded now."""
        now = time.monotonic()
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                age = now - found[0]
                if age < self.stale:
                    self._data.move_to_end(key)
                    if age >= self.ttl and key not in self._loading:
                        self._loading.add(key)
                        _refresher.submit(self._refresh, key, load)
                    return found[1]
        value = load()
        self.put(key, value)
        return value

    def _refresh(self, key: tuple, load: Callable[[], Any]) -> None:
        try:
            self.put(key, load())
        except Exception as exc:  # the kept answer stays until it is too old; the log says why
            log.warning(kv("console cache refresh failed", key=key[0], error=type(exc).__name__))
        finally:
            with self._lock:
                self._loading.discard(key)

    def put(self, key: tuple, value: Any) -> None:
        with self._lock:
            self._data[key] = (time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self._entries:
                self._data.popitem(last=False)

    def drop(self, matches: Callable[[tuple], bool]) -> None:
        with self._lock:
            for key in [k for k in self._data if matches(k)]:
                del self._data[key]
