"""``/events``: events searched by repository, tag, digest, actor, action and time, newest
first, each with its delivery state at every endpoint (its fan-out) and its body in each format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from services.console.history.requests import Body, bodies
from services.console.history.times import BadFilter, parse_time
from shared.history.store import HistoryStore
from shared.history.views import EventSummary

PER_PAGE = 25
ACTIONS = ("push", "pull", "delete", "mount", "test")


@dataclass(frozen=True)
class EventQuery:
    """The search form's fields as typed (a glob or an exact value; times as ``parse_time``)."""

    repository: str = ""
    tag: str = ""
    digest: str = ""
    actor: str = ""
    action: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def from_params(cls, get: Callable[[str], str | None]) -> EventQuery:
        return cls(**{name: (get(name) or "").strip() for name in cls.__dataclass_fields__})

    def params(self) -> dict[str, str]:
        """The fields that are set (for links to the next page, and the live tail's polls)."""
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class EventRow:
    summary: EventSummary
    routing_key: str | None
    bodies: list[Body]

    def to_json(self) -> dict[str, Any]:
        return {**self.summary.to_json(), "routing_key": self.routing_key,
                "bodies": {b.format: {"content_type": b.content_type, "text": b.text}
                           for b in self.bodies}}


@dataclass(frozen=True)
class EventsPage:
    query: EventQuery
    items: list[EventRow]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query.params(), "items": [r.to_json() for r in self.items],
                "next_cursor": self.next_cursor}


def search(store: HistoryStore, query: EventQuery, cursor: str | None = None,
           limit: int = PER_PAGE, with_bodies: bool = True) -> EventsPage:
    from shared.history import search_events
    from shared.history.queries import event_bodies

    if query.action and query.action not in ACTIONS:
        raise BadFilter(f"action: one of {', '.join(ACTIONS)}, got {query.action!r}")
    try:
        page = search_events(store, repository=query.repository or None, tag=query.tag or None,
                             digest=query.digest or None, actor=query.actor or None,
                             action=query.action or None,
                             since=parse_time(query.since, "since"),
                             until=parse_time(query.until, "until"), limit=limit, cursor=cursor)
    except BadFilter:
        raise
    except ValueError as exc:  # a cursor that is not one of this listing's
        raise BadFilter(str(exc)) from None
    found = event_bodies(store, [e.id for e in page.items]) if with_bodies else {}
    rows = []
    for summary in page.items:
        event, routing_key = found.get(summary.id, (None, None))
        rows.append(EventRow(summary, routing_key,
                             bodies(event, routing_key or "") if event is not None else []))
    return EventsPage(query, rows, page.next_cursor)
