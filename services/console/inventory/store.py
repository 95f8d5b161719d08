"""Content the console has read, kept by (repository, digest): a digest names its bytes
forever, so a manifest or config read once never needs reading again. Keyed by repository too,
so an entry is only used after the user was allowed to list that repository's tags."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
        # Loads started before anyone asked: each one's future, what it has brought so far
        # (its caller's), and the load itself.
        self._ahead: dict[tuple, tuple[Future, Any, Callable[[], Any]]] = {}
        self._lock = threading.Lock()

    def kept(self, key: tuple, load: Callable[[], Any]) -> Any:
        """The value for ``key`` if kept (refreshed in the background once older than ``ttl``);
        None if not: nothing is loaded (no value kept here is None)."""
        now = time.monotonic()
        with self._lock:
            found = self._data.get(key)
            if found is None or now - found[0] >= self.stale:
                return None
            self._data.move_to_end(key)
            if now - found[0] >= self.ttl and key not in self._loading:
                self._loading.add(key)
                _refresher.submit(self._refresh, key, load)
            return found[1]

    def get(self, key: tuple, load: Callable[[], Any]) -> Any:
        """The value for ``key``: kept, or kept and refreshed in the background, or loaded now
        (or by the load :meth:`load_ahead` started, when one runs)."""
        value = self.kept(key, load)
        if value is not None:
            return value
        with self._lock:
            ahead = self._ahead.get(key)
        if ahead is not None:
            if ahead[0].cancel():
                # Still queued behind other loads: sooner read here, by that same load, so
                # whoever follows its progress sees it through.
                load = ahead[2]
                with self._lock:
                    self._ahead.pop(key, None)
            else:
                try:
                    return ahead[0].result()
                except Exception:  # it failed (and logged) in the background: ask again, now
                    pass
        value = load()
        self.put(key, value)
        return value

    def load_ahead(self, key: tuple, load: Callable[[], Any], progress: Any = None) -> None:
        """Start loading ``key`` in the background unless it is kept or being loaded: what a
        person will likely ask for next (every repository name, for the search box) is then
        read while they look at something else, and a :meth:`get` meanwhile waits for it
        rather than reading it a second time. ``progress``, which ``load`` feeds, is what
        :meth:`in_progress` gives meanwhile."""
        with self._lock:
            found = self._data.get(key)
            if key in self._ahead or (found is not None
                                      and time.monotonic() - found[0] < self.stale):
                return
            # Submitted under the lock: the load cannot end (and forget itself) before it is
            # known here.
            self._ahead[key] = (_refresher.submit(self._load_ahead, key, load), progress, load)

    def in_progress(self, key: tuple) -> Any:
        """The ``progress`` of the load :meth:`load_ahead` runs for ``key``; None if none runs."""
        with self._lock:
            ahead = self._ahead.get(key)
        return ahead[1] if ahead is not None else None

    def _load_ahead(self, key: tuple, load: Callable[[], Any]) -> Any:
        try:
            value = load()
            self.put(key, value)
            return value
        except Exception as exc:  # whoever asks for it meets the error itself, and is told
            log.debug(kv("console cache load ahead failed", key=key[0],
                         error=type(exc).__name__))
            raise
        finally:
            with self._lock:
                self._ahead.pop(key, None)

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
