"""``/deadletters``: the events given up on, from the endpoints' dead-letter queues on the
broker (what a replay or a purge acts on), filtered by endpoint, status, error class,
repository and time; and the counts shown before replaying or purging them.

Reading a dead-letter queue takes each message and parks it again (what ``registry deadletter
list`` does; see :mod:`shared.operations.deadletters`): its cost grows with the letters read, so a
page reads and shows at most ``SHOWN`` per endpoint (oldest first; more when filters leave some
out), and says how many are parked. Counting, replaying and purging "all matching" read them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from services.console.history.access import History
from services.console.history.times import BadFilter, parse_choice, parse_int, parse_time
from shared.config import Config
from shared.history.records import ERROR_CLASSES, INTERNAL
from shared.operations.deadletters import (
    DeadLetter,
    DeadLetterFilter,
    Tally,
    list_dead_letters,
    purge_dead_letters,
    replay_dead_letters,
)

SHOWN = 25  # dead letters listed per endpoint
CLASSES = (*ERROR_CLASSES, INTERNAL)


@dataclass(frozen=True)
class DeadLetterQuery:
    endpoint: str = ""
    status: str = ""
    error_class: str = ""
    repository: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def from_params(cls, get: Callable[[str], str | None]) -> DeadLetterQuery:
        return cls(**{name: (get(name) or "").strip() for name in cls.__dataclass_fields__})

    def params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def filters(self, event_ids: frozenset[str] | None = None) -> DeadLetterFilter:
        """The shared filter; ``event_ids``: only these (the letters ticked on the page)."""
        return DeadLetterFilter(
            event_ids=event_ids, repository=self.repository or None,
            status=parse_int(self.status, "status"),
            error_class=parse_choice(self.error_class, "error_class", CLASSES),
            since=parse_time(self.since, "since"), until=parse_time(self.until, "until"))


@dataclass(frozen=True)
class DeadLetterPage:
    query: DeadLetterQuery
    tallies: list[Tally]

    @property
    def letters(self) -> list[DeadLetter]:
        return [letter for t in self.tallies for letter in t.letters]

    @property
    def truncated(self) -> list[Tally]:
        """Endpoints whose letters were not all read (more may match than shown)."""
        return [t for t in self.tallies if t.events + t.not_events < t.parked]

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query.params(),
                "items": [letter.to_json() for letter in self.letters],
                "truncated": [t.endpoint for t in self.truncated],
                "endpoints": [{"endpoint": t.endpoint, "parked": t.parked, "read": t.events,
                               "not_events": t.not_events, "shown": t.acted}
                              for t in self.tallies]}


# The letters an operator ticked: endpoint -> event ids (a letter is "<endpoint>/<event id>";
# endpoint names hold no "/"). None: every letter the filters match.
Chosen = dict[str, frozenset[str]] | None


def chosen_letters(values: list[str]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for value in values:
        endpoint, _, event_id = value.partition("/")
        if not endpoint or not event_id:
            raise BadFilter(f"letter: expected <endpoint>/<event id>, got {value!r}")
        out.setdefault(endpoint, set()).add(event_id)
    return {k: frozenset(v) for k, v in out.items()}


def _targets(query: DeadLetterQuery, chosen: Chosen) -> list[tuple[str | None, DeadLetterFilter]]:
    """(endpoint or None for all, filter) pairs one action walks."""
    if chosen is None:
        return [(query.endpoint or None, query.filters())]
    return [(endpoint, query.filters(ids)) for endpoint, ids in sorted(chosen.items())
            if not query.endpoint or endpoint == query.endpoint]


def dead_letters(config: Config, query: DeadLetterQuery) -> DeadLetterPage:
    return DeadLetterPage(query, list_dead_letters(config, query.endpoint or None,
                                                   query.filters(), SHOWN))


def count(config: Config, query: DeadLetterQuery, chosen: Chosen = None) -> dict[str, int]:
    """How many letters a replay or purge of the same choice would take, per endpoint."""
    out: dict[str, int] = {}
    for endpoint, filters in _targets(query, chosen):
        for t in list_dead_letters(config, endpoint, filters):
            if t.acted:
                out[t.endpoint] = out.get(t.endpoint, 0) + t.acted
    return out


def replay(config: Config, history: History, query: DeadLetterQuery, chosen: Chosen = None) -> int:
    return sum(t.acted for endpoint, filters in _targets(query, chosen)
               for t in replay_dead_letters(config, endpoint, filters, store=history.store))


def purge(config: Config, query: DeadLetterQuery, chosen: Chosen = None) -> int:
    return sum(t.acted for endpoint, filters in _targets(query, chosen)
               for t in purge_dead_letters(config, endpoint, filters))
