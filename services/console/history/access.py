"""The console's seam to the delivery history: the store, or why there is none.

``build_history(config)`` opens the shared store (``notifications.history``). With the history
disabled there is no store and :meth:`History.require` raises :class:`HistoryUnavailable` with
the reason; with a database that cannot be reached the store's own calls raise it. The pages
drawn on the history let it reach the app's error handler (a page saying so, 503 for an
unreachable database; never a 500); the repository pages use the ``*_or_none`` reads, which
answer None and log instead, since a registry is worth browsing without its history.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.config import Config
from shared.history import open_store
from shared.history.engine import HistoryUnavailable
from shared.history.store import HistoryStore
from shared.history.views import EventSummary
from shared.logfmt import kv

log = logging.getLogger("console.history")

TAG_EVENTS = 10  # events shown under a tag ("deliveries caused by this tag")


class History:
    def __init__(self, store: HistoryStore | None, reason: str | None = None):
        self.store = store
        self.reason = reason  # why there is no store

    @property
    def available(self) -> bool:
        """A store is configured (it may still be unreachable)."""
        return self.store is not None

    def require(self) -> HistoryStore:
        if self.store is None:
            raise HistoryUnavailable(self.reason or "the delivery history is not available")
        return self.store

    def _quietly(self, what: str, call: Any) -> Any:
        if self.store is None:
            return None
        try:
            return call(self.store)
        except HistoryUnavailable as exc:
            log.warning(kv("delivery history unavailable", read=what, error=str(exc)[:300]))
            return None

    def last_pushes_or_none(self, repositories: list[str]) -> dict[str, str] | None:
        from shared.history import last_pushes

        return self._quietly("last_pushes", lambda s: last_pushes(s, repositories))

    def tag_pushes_or_none(self, repository: str) -> dict[str, str] | None:
        from shared.history import tag_pushes

        return self._quietly("tag_pushes", lambda s: tag_pushes(s, repository))

    def tag_events_or_none(self, repository: str, tag: str) -> list[EventSummary] | None:
        """The latest events naming ``repository:tag`` (its pushes, pulls, deletes), each with
        its delivery to every endpoint: "deliveries caused by this tag". (Names and tags hold
        no ``*`` or ``?``, so the history's glob filters match them exactly.)"""
        from shared.history import search_events

        page = self._quietly("tag_events", lambda s: search_events(
            s, repository=repository, tag=tag, limit=TAG_EVENTS))
        return None if page is None else page.items


def build_history(config: Config) -> History:
    try:
        return History(open_store(config))
    except HistoryUnavailable as exc:
        log.info(kv("console without the delivery history", reason=str(exc)))
        return History(None, str(exc))
