"""The delivery history: every event once, its delivery to every endpoint, every attempt.

One interface, three users. The notifier writes to it (:class:`HistoryWriter`, off the delivery
path); ``registry deliveries`` / ``registry endpoints`` and the web console read from it (the
functions below) and act through :mod:`shared.operations`. Neither reader imports
``services.notifier`` or ``services.registry``.

Opening
    ``open_store(config) -> HistoryStore`` (``notifications.history.url``; SQLite
    ``<state directory>/history.db`` by default; PostgreSQL ``postgresql://...`` through psycopg
    3). The first use applies the shipped Alembic migrations. Every call below raises
    :class:`HistoryUnavailable` (message without the URL's password) when the database cannot
    be used. Times passed in are epoch seconds; times returned are RFC 3339 UTC strings.

Reading (:mod:`shared.history.queries`, results in :mod:`shared.history.views`; ``to_json()``
gives the command line's JSON fields)
    ``list_deliveries(store, endpoint=None, repository=None, action=None, state=None,
    since=None, until=None, limit=100, cursor=None) -> Page[DeliveryRow]``
        newest first. DeliveryRow: event_id, endpoint, state, action, repository, tag, digest,
        time, attempts, last_status (+ error_class, error, updated, next_retry).
    ``show_event(store, event_id, endpoint=None) -> EventDetail | None``
        event (the JSON as published), deliveries: [DeliveryDetail(endpoint, state,
        attempts: [AttemptView(number, time, notifier, duration_ms, request_headers, status,
        response_headers, response_body, error_class, error)], next_retry, latency_ms)].
    ``search_events(store, repository=None, tag=None, digest=None, actor=None, action=None,
    since=None, until=None, limit=50, cursor=None) -> Page[EventSummary]``
        EventSummary: id, time, action, repository, tag, digest, media_type, actor,
        deliveries {endpoint: state}.
    ``endpoint_stats(store, names, window=3600) -> {name: EndpointStats}``
        attempts, success_rate, p50_ms, p95_ms, last_status, last_error_class, last_attempt.
    ``overview(store, window=3600) -> Overview``
        events_per_minute [(minute, count)], events, success_rate, p50_ms, p95_ms (event time to
        2xx), notifiers [NotifierSeen(id, host, pid, started, last_seen, alive)].
    ``read_controls(store) -> {endpoint: Control(paused, reason, since, by, last_probe)}``.
    ``last_pushes(store, repositories) -> {repository: time}``, ``tag_pushes(store,
    repository) -> {tag: time}``: the latest push events (the console's push times).
    String filters take a glob (``library/*``) or an exact value. ``Page.next_cursor`` passed
    back as ``cursor`` gives the next page.

States
    delivered, retrying, dead, filtered, pending, and paused (a pending delivery of a paused
    endpoint). Error classes: dns, connect, tls, timeout, status (non-2xx), internal.

Writing (the notifier)
    ``HistoryWriter(store, endpoints, retention).start()``, then ``.record(Settled(...))`` per
    settled delivery; batched, bounded, never blocking (see :mod:`shared.history.writer`).
"""

import importlib
from typing import Any

# Names load on first use: importing the package (for a constant, say) must not import
# SQLAlchemy or prometheus_client (``registry serve`` sets up multiprocess metrics first).
_EXPORTS = {
    "AUTO": "controls", "OPERATOR": "controls", "Control": "controls", "read_controls": "controls",
    "HistoryUnavailable": "engine",
    "endpoint_stats": "queries", "last_pushes": "queries", "list_deliveries": "queries",
    "overview": "queries", "search_events": "queries", "show_event": "queries",
    "tag_pushes": "queries",
    "ERROR_CLASSES": "records", "STATES": "records", "AttemptRecord": "records",
    "Settled": "records", "mask_headers": "records",
    "HistoryStore": "store", "open_store": "store",
    "AttemptView": "views", "DeliveryDetail": "views", "DeliveryRow": "views",
    "EndpointStats": "views", "EventDetail": "views", "EventSummary": "views",
    "NotifierSeen": "views", "Overview": "views", "Page": "views",
    "HistoryWriter": "writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shared.history' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"shared.history.{module}"), name)
    globals()[name] = value
    return value
