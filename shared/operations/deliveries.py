"""Sending past events again: one delivery now, every delivery of a time range, or the events of
a time range to an endpoint that did not have them (a new one). Counting comes apart from
sending, so a command (and the console) can show how many first and send only when confirmed.

The events come from the delivery history; they go to the endpoint's queue with a fresh attempt
count, and their deliveries turn ``pending`` until a notifier settles them (the new attempts
follow the earlier ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.config import Config, EndpointConfig
from shared.endpoint_filters import ignore_reason
from shared.history import queries
from shared.history.store import HistoryStore
from shared.history.writes import mark_pending
from shared.operations.errors import OperationError
from shared.operations.metrics import RESENT
from shared.operations.publishing import configured_endpoint, send_to_endpoint


@dataclass(frozen=True)
class DeliveryRange:
    """Which deliveries of an endpoint a range resend takes."""

    endpoint: str
    since: float
    until: float | None = None
    state: str | None = None  # e.g. dead
    repository: str | None = None  # a glob


def _send(config: Config, store: HistoryStore, endpoint: EndpointConfig,
          batches: Iterator[list[tuple[dict[str, Any], str]]]) -> int:
    def marked() -> Iterator[list[tuple[dict[str, Any], str]]]:
        for batch in batches:
            with store.begin() as connection:
                mark_pending(connection, endpoint.name, batch)
            yield batch

    sent = send_to_endpoint(config, endpoint, marked())
    RESENT.labels(endpoint=endpoint.name).inc(sent)
    return sent


def resend_one(config: Config, store: HistoryStore, event_id: str, endpoint: str) -> None:
    """Deliver one event to ``endpoint`` again, now (whatever its filters say: the operator
    asked for it)."""
    ep = configured_endpoint(config, endpoint)
    found = queries.event_bodies(store, [event_id])
    if event_id not in found:
        raise OperationError(f"event {event_id} is not in the delivery history", status=2)
    _send(config, store, ep, iter([[found[event_id]]]))


def _range_batches(store: HistoryStore, chosen: DeliveryRange
                   ) -> Iterator[list[tuple[dict[str, Any], str]]]:
    for ids in queries.delivery_keys(store, chosen.endpoint, chosen.since, chosen.state,
                                     chosen.repository, chosen.until):
        bodies = queries.event_bodies(store, ids)
        yield [bodies[i] for i in ids if i in bodies]


def count_range(config: Config, store: HistoryStore, chosen: DeliveryRange) -> int:
    """How many deliveries :func:`resend_range` would send."""
    configured_endpoint(config, chosen.endpoint, enabled=False)
    return queries.count_deliveries(store, chosen.endpoint, chosen.since, chosen.state,
                                    chosen.repository, chosen.until)


def resend_range(config: Config, store: HistoryStore, chosen: DeliveryRange) -> int:
    """Send every delivery of the range to its endpoint again, oldest first; how many."""
    ep = configured_endpoint(config, chosen.endpoint)
    return _send(config, store, ep, _range_batches(store, chosen))


def _backfill_batches(store: HistoryStore, endpoint: EndpointConfig, since: float,
                      until: float | None) -> Iterator[list[tuple[dict[str, Any], str]]]:
    for batch in queries.events_since(store, since, until):
        wanted = [(e, rk) for e, rk in batch if e.get("id") and ignore_reason(endpoint, e) is None]
        have = queries.delivered_to(store, endpoint.name, [str(e["id"]) for e, _ in wanted])
        chosen = [(e, rk) for e, rk in wanted if str(e["id"]) not in have]
        if chosen:
            yield chosen


def count_backfill(config: Config, store: HistoryStore, endpoint: str, since: float,
                   until: float | None = None) -> int:
    """How many events :func:`backfill` would send: those of the range the endpoint's filters
    take and that it has not had (delivered, or on their way)."""
    ep = configured_endpoint(config, endpoint, enabled=False)
    return sum(len(b) for b in _backfill_batches(store, ep, since, until))


def backfill(config: Config, store: HistoryStore, endpoint: str, since: float,
             until: float | None = None) -> int:
    """Send the range's past events to ``endpoint`` through its filters, oldest first; how many."""
    ep = configured_endpoint(config, endpoint)
    return _send(config, store, ep, _backfill_batches(store, ep, since, until))
