"""Reading the history: the listings and figures of ``registry deliveries``, ``registry
endpoints`` and the console. Each function opens its own short transaction.

String filters take a glob (``library/*``, ``v1.?``) or an exact value; times are epoch
seconds. Listings are newest first, a page at a time (keyset pagination: a cursor, not an
offset, so page 1000 costs what page 1 does).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from shared.history.controls import read_controls
from shared.history.dialect import minute_of
from shared.history.records import PAUSED, PENDING, STATES
from shared.history.schema import attempts, deliveries, events, notifiers
from shared.history.store import HistoryStore
from shared.history.views import (
    AttemptView,
    DeliveryDetail,
    DeliveryRow,
    EndpointStats,
    EventDetail,
    EventSummary,
    NotifierSeen,
    Overview,
    Page,
    iso,
)

LATENCY_SAMPLES = 5000  # latencies read for an endpoint's percentiles (the newest)
ALIVE_WITHIN = 30.0  # a notifier stamps itself every 10 s


def matches(column: sa.ColumnElement, pattern: str) -> sa.ColumnElement:
    """``column`` matches a glob (``*`` any run, ``?`` one character) or equals a plain value."""
    if "*" not in pattern and "?" not in pattern:
        return column == pattern
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped.replace("*", "%").replace("?", "_"), escape="\\")


def _cursor(stamp: float, row_id: Any) -> str:
    return f"{stamp!r}/{row_id}"


def _after_cursor(cursor: str | None, time_column: sa.Column, id_column: sa.Column,
                  numeric_id: bool = True) -> sa.ColumnElement | None:
    if not cursor:
        return None
    stamp_text, _, row_id = cursor.partition("/")
    try:
        stamp = float(stamp_text)
        key: Any = int(row_id) if numeric_id else row_id
    except ValueError:
        raise ValueError(f"not a cursor of this listing: {cursor!r}") from None
    return sa.or_(time_column < stamp, sa.and_(time_column == stamp, id_column < key))


def paused_endpoints(store: HistoryStore) -> set[str]:
    return {name for name, c in read_controls(store).items() if c.paused}


def _shown_state(state: str, endpoint: str, paused: set[str]) -> str:
    return PAUSED if state == PENDING and endpoint in paused else state


def list_deliveries(store: HistoryStore, endpoint: str | None = None,
                    repository: str | None = None, action: str | None = None,
                    state: str | None = None, since: float | None = None,
                    until: float | None = None, limit: int = 100,
                    cursor: str | None = None) -> Page[DeliveryRow]:
    """Deliveries newest first (by event time), filtered. ``state`` ``paused`` is a pending
    delivery of a paused endpoint; ``pending`` one of an endpoint that is not paused."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
    d = deliveries.c
    paused = paused_endpoints(store)
    conditions = []
    if endpoint:
        conditions.append(d.endpoint == endpoint)
    if repository:
        conditions.append(matches(d.repository, repository))
    if action:
        conditions.append(d.action == action)
    if state == PAUSED:
        conditions += [d.state == PENDING, d.endpoint.in_(sorted(paused) or [""])]
    elif state == PENDING:
        conditions += [d.state == PENDING, d.endpoint.not_in(sorted(paused))]
    elif state:
        conditions.append(d.state == state)
    if since is not None:
        conditions.append(d.event_time >= since)
    if until is not None:
        conditions.append(d.event_time < until)
    after = _after_cursor(cursor, d.event_time, d.id)
    if after is not None:
        conditions.append(after)
    query = (sa.select(deliveries).where(*conditions)
             .order_by(d.event_time.desc(), d.id.desc()).limit(limit + 1))
    with store.begin() as connection:
        rows = connection.execute(query).mappings().all()
    items = [DeliveryRow(
        event_id=r["event_id"], endpoint=r["endpoint"],
        state=_shown_state(r["state"], r["endpoint"], paused), action=r["action"],
        repository=r["repository"], tag=r["tag"], digest=r["digest"], time=iso(r["event_time"]),
        attempts=r["attempts"], last_status=r["last_status"], error_class=r["last_error_class"],
        error=r["last_error"], updated=iso(r["updated"]), next_retry=iso(r["next_attempt"]),
    ) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, _cursor(rows[limit - 1]["event_time"], rows[limit - 1]["id"]) if more else None)


def show_event(store: HistoryStore, event_id: str, endpoint: str | None = None) -> EventDetail | None:
    """An event as published and its delivery to every endpoint (or one), each with every
    attempt in order. None for an event the history does not have."""
    with store.begin() as connection:
        event = connection.execute(sa.select(events).where(events.c.id == event_id)).mappings().first()
        if event is None:
            return None
        conditions = [deliveries.c.event_id == event_id]
        attempt_conditions = [attempts.c.event_id == event_id]
        if endpoint:
            conditions.append(deliveries.c.endpoint == endpoint)
            attempt_conditions.append(attempts.c.endpoint == endpoint)
        rows = connection.execute(sa.select(deliveries).where(*conditions)
                                  .order_by(deliveries.c.endpoint)).mappings().all()
        attempt_rows = connection.execute(sa.select(attempts).where(*attempt_conditions)
                                          .order_by(attempts.c.time, attempts.c.id)).mappings().all()
    paused = paused_endpoints(store)
    by_endpoint: dict[str, list[AttemptView]] = {}
    for row in attempt_rows:
        made = by_endpoint.setdefault(row["endpoint"], [])
        made.append(AttemptView.from_row(len(made) + 1, row))
    details = [DeliveryDetail(endpoint=r["endpoint"],
                              state=_shown_state(r["state"], r["endpoint"], paused),
                              attempts=by_endpoint.get(r["endpoint"], []),
                              next_retry=iso(r["next_attempt"]), latency_ms=r["latency_ms"])
               for r in rows]
    return EventDetail(event=json.loads(event["body"]), deliveries=details,
                       routing_key=event["routing_key"])


def search_events(store: HistoryStore, repository: str | None = None, tag: str | None = None,
                  digest: str | None = None, actor: str | None = None,
                  action: str | None = None, since: float | None = None,
                  until: float | None = None, limit: int = 50,
                  cursor: str | None = None) -> Page[EventSummary]:
    """Events newest first, each with its delivery state per endpoint."""
    e = events.c
    conditions = []
    for column, value in ((e.repository, repository), (e.tag, tag), (e.digest, digest),
                          (e.actor, actor)):
        if value:
            conditions.append(matches(column, value))
    if action:
        conditions.append(e.action == action)
    if since is not None:
        conditions.append(e.time >= since)
    if until is not None:
        conditions.append(e.time < until)
    after = _after_cursor(cursor, e.time, e.id, numeric_id=False)
    if after is not None:
        conditions.append(after)
    columns = [e.id, e.time, e.action, e.repository, e.tag, e.digest, e.media_type, e.actor]
    query = sa.select(*columns).where(*conditions).order_by(e.time.desc(), e.id.desc()).limit(limit + 1)
    with store.begin() as connection:
        rows = connection.execute(query).mappings().all()
        page = rows[:limit]
        fanout: dict[str, dict[str, str]] = {}
        if page:
            for r in connection.execute(sa.select(deliveries.c.event_id, deliveries.c.endpoint,
                                                  deliveries.c.state)
                                        .where(deliveries.c.event_id.in_([r["id"] for r in page]))):
                fanout.setdefault(r.event_id, {})[r.endpoint] = r.state
    paused = paused_endpoints(store)
    items = [EventSummary(id=r["id"], time=iso(r["time"]), action=r["action"],
                          repository=r["repository"], tag=r["tag"], digest=r["digest"],
                          media_type=r["media_type"], actor=r["actor"],
                          deliveries={name: _shown_state(state, name, paused)
                                      for name, state in sorted(fanout.get(r["id"], {}).items())})
             for r in page]
    more = len(rows) > limit
    return Page(items, _cursor(rows[limit - 1]["time"], rows[limit - 1]["id"]) if more else None)


def last_pushes(store: HistoryStore, repositories: Iterable[str]) -> dict[str, str]:
    """Each repository's latest push event (RFC 3339), for those the history has one of: the
    console's repository list, a page of names in one query."""
    names = sorted(set(repositories))
    if not names:
        return {}
    e = events.c
    query = (sa.select(e.repository, sa.func.max(e.time).label("time"))
             .where(e.repository.in_(names), e.action == "push").group_by(e.repository))
    with store.begin() as connection:
        return {r.repository: iso(r.time) or "" for r in connection.execute(query)}


def tag_pushes(store: HistoryStore, repository: str) -> dict[str, str]:
    """Each tag of ``repository`` with its latest push (RFC 3339): the console sorts tags by it."""
    e = events.c
    query = (sa.select(e.tag, sa.func.max(e.time).label("time"))
             .where(e.repository == repository, e.action == "push", e.tag.is_not(None))
             .group_by(e.tag))
    with store.begin() as connection:
        return {r.tag: iso(r.time) or "" for r in connection.execute(query)}


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0.95 for p95) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return round(ordered[rank - 1], 3)


def endpoint_stats(store: HistoryStore, names: Iterable[str], window: float = 3600.0,
                   now: float | None = None) -> dict[str, EndpointStats]:
    """Per endpoint over the last ``window`` seconds: attempts made, the share answered 2xx,
    p50/p95 of event time to 2xx, and the latest attempt's status."""
    now = now or time.time()
    start = now - window
    a = attempts.c
    ok = sa.case((sa.and_(a.status >= 200, a.status < 300), 1), else_=0)
    out = {}
    with store.begin() as connection:
        for name in names:
            # One endpoint at a time: grouping the window's attempts by endpoint led SQLite to
            # read every attempt in the (endpoint, time) index's order (88 ms at 1 million).
            total, good = connection.execute(
                sa.select(sa.func.count(), sa.func.sum(ok))
                .where(a.endpoint == name, a.time >= start)).one()
            last = connection.execute(
                sa.select(a.status, a.error_class, a.time).where(a.endpoint == name)
                .order_by(a.time.desc()).limit(1)).first()
            latencies = connection.execute(
                sa.select(deliveries.c.latency_ms).where(
                    deliveries.c.endpoint == name, deliveries.c.event_time >= start,
                    deliveries.c.latency_ms.is_not(None))
                .order_by(deliveries.c.event_time.desc()).limit(LATENCY_SAMPLES)).scalars().all()
            good = good or 0
            out[name] = EndpointStats(
                name=name, attempts=total,
                success_rate=round(good / total, 4) if total else None,
                p50_ms=percentile(list(latencies), 0.5), p95_ms=percentile(list(latencies), 0.95),
                last_status=last.status if last else None,
                last_error_class=last.error_class if last else None,
                last_attempt=iso(last.time) if last else None)
    return out


def overview(store: HistoryStore, window: float = 3600.0, now: float | None = None) -> Overview:
    """Events per minute, the share of attempts answered 2xx, p50/p95 of event time to 2xx, and
    the notifiers seen, over the last ``window`` seconds."""
    now = now or time.time()
    start = now - window
    a = attempts.c
    ok = sa.case((sa.and_(a.status >= 200, a.status < 300), 1), else_=0)
    with store.begin() as connection:
        minute = minute_of(connection, events.c.time).label("minute")
        per_minute = {int(r.minute): r.n for r in connection.execute(
            sa.select(minute, sa.func.count().label("n")).where(events.c.time >= start)
            .group_by(minute))}
        total, good = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(ok)).where(a.time >= start)).one()
        latencies = connection.execute(
            sa.select(deliveries.c.latency_ms).where(
                deliveries.c.event_time >= start, deliveries.c.latency_ms.is_not(None))
            .order_by(deliveries.c.event_time.desc()).limit(LATENCY_SAMPLES * 4)).scalars().all()
        seen = connection.execute(sa.select(notifiers).where(notifiers.c.last_seen >= start)
                                  .order_by(notifiers.c.id)).mappings().all()
    first, last = int(start // 60) + 1, int(now // 60)
    series = [(iso(m * 60.0) or "", per_minute.get(m, 0)) for m in range(first, last + 1)]
    return Overview(
        window_seconds=window, events_per_minute=series, events=sum(per_minute.values()),
        success_rate=round((good or 0) / total, 4) if total else None,
        p50_ms=percentile(list(latencies), 0.5), p95_ms=percentile(list(latencies), 0.95),
        notifiers=[NotifierSeen(id=r["id"], host=r["host"], pid=r["pid"], started=iso(r["started"]),
                                last_seen=iso(r["last_seen"]),
                                alive=r["last_seen"] >= now - ALIVE_WITHIN) for r in seen])


def delivery_keys(store: HistoryStore, endpoint: str, since: float | None = None,
                  state: str | None = None, repository: str | None = None,
                  until: float | None = None, batch: int = 1000) -> Iterator[list[str]]:
    """The event ids of ``endpoint``'s deliveries matching the filters, oldest first, a batch at
    a time (what ``resend --since`` sends)."""
    d = deliveries.c
    conditions = [d.endpoint == endpoint]
    if state == PAUSED:
        state = PENDING
    if state:
        conditions.append(d.state == state)
    if repository:
        conditions.append(matches(d.repository, repository))
    if since is not None:
        conditions.append(d.event_time >= since)
    if until is not None:
        conditions.append(d.event_time < until)
    last: tuple[float, int] | None = None
    while True:
        page_conditions = list(conditions)
        if last is not None:
            page_conditions.append(sa.or_(d.event_time > last[0],
                                          sa.and_(d.event_time == last[0], d.id > last[1])))
        with store.begin() as connection:
            rows = connection.execute(sa.select(d.event_id, d.event_time, d.id)
                                      .where(*page_conditions)
                                      .order_by(d.event_time, d.id).limit(batch)).all()
        if not rows:
            return
        yield [r.event_id for r in rows]
        last = (rows[-1].event_time, rows[-1].id)
        if len(rows) < batch:
            return


def count_deliveries(store: HistoryStore, endpoint: str, since: float | None = None,
                     state: str | None = None, repository: str | None = None,
                     until: float | None = None) -> int:
    return sum(len(ids) for ids in delivery_keys(store, endpoint, since, state, repository, until))


def event_bodies(store: HistoryStore, event_ids: list[str]) -> dict[str, tuple[dict[str, Any], str]]:
    """Event id -> (the event, its routing key)."""
    if not event_ids:
        return {}
    with store.begin() as connection:
        rows = connection.execute(sa.select(events.c.id, events.c.body, events.c.routing_key)
                                  .where(events.c.id.in_(event_ids))).all()
    return {r.id: (json.loads(r.body), r.routing_key) for r in rows}


def events_since(store: HistoryStore, since: float, until: float | None = None,
                 batch: int = 500) -> Iterator[list[tuple[dict[str, Any], str]]]:
    """Every event of the time range, oldest first, a batch at a time: (event, routing key)."""
    e = events.c
    last: tuple[float, str] | None = None
    while True:
        conditions = [e.time >= since]
        if until is not None:
            conditions.append(e.time < until)
        if last is not None:
            conditions.append(sa.or_(e.time > last[0], sa.and_(e.time == last[0], e.id > last[1])))
        with store.begin() as connection:
            rows = connection.execute(sa.select(e.id, e.time, e.body, e.routing_key)
                                      .where(*conditions).order_by(e.time, e.id).limit(batch)).all()
        if not rows:
            return
        yield [(json.loads(r.body), r.routing_key) for r in rows]
        last = (rows[-1].time, rows[-1].id)
        if len(rows) < batch:
            return


def delivered_to(store: HistoryStore, endpoint: str, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` ``endpoint`` already has (delivered or on their way)."""
    if not event_ids:
        return set()
    with store.begin() as connection:
        return set(connection.execute(
            sa.select(deliveries.c.event_id).where(
                deliveries.c.endpoint == endpoint, deliveries.c.event_id.in_(event_ids),
                deliveries.c.state.in_(("delivered", "retrying", PENDING)))).scalars())
