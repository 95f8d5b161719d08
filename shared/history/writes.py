"""Writing a batch of settled deliveries: events once, a delivery row per (event, endpoint)
whose state the latest pass sets, an attempt row per HTTP attempt, and for an event seen first
on the events exchange a pending row for every other endpoint (its fan-out).

One transaction per batch. Upserts are per (event, endpoint): the batch is folded first, since
a statement may touch a row once only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from shared.config import EndpointConfig
from shared.endpoint_filters import ignore_reason
from shared.events import event_time, routing_key_for
from shared.history.dialect import CopyRoute, insert, write_rows
from shared.history.records import DELIVERED, FILTERED, PENDING, Settled
from shared.history.schema import attempts, deliveries, events, notifiers

JSON_SEPARATORS = (",", ":")
# One encoder for every record: json.dumps with separators builds a new one per call.
_to_json = json.JSONEncoder(separators=JSON_SEPARATORS).encode


def event_row(event: dict[str, Any], routing_key: str | None = None,
              now: float | None = None, body: str | bytes | None = None) -> dict[str, Any]:
    """The event's row; ``body``: its JSON as received (saves encoding it again)."""
    target = event.get("target") or {}
    actor = event.get("actor") or {}
    source = event.get("source") or {}
    stamp = event_time(event.get("timestamp"))
    return {
        "id": str(event.get("id") or ""),
        "time": stamp if stamp is not None else (now or time.time()),
        "action": str(event.get("action") or "")[:32],
        "routing_key": (routing_key or routing_key_for(event))[:64],
        "repository": _text(target.get("repository"), 512),
        "tag": _text(target.get("tag"), 256),
        "digest": _text(target.get("digest"), 160),
        "media_type": _text(target.get("mediaType"), 256),
        "actor": _text(actor.get("name") if isinstance(actor, dict) else None, 256),
        "source": _text(source.get("instanceID") or source.get("addr")
                        if isinstance(source, dict) else None, 256),
        "body": body.decode("utf-8", errors="replace") if isinstance(body, bytes) else
        body if isinstance(body, str) else _to_json(event),
    }


def _text(value: Any, limit: int) -> str | None:
    return None if value in (None, "") else str(value)[:limit]


def _delivery_row(endpoint: str, event: dict[str, Any], ev: dict[str, Any], state: str,
                  now: float) -> dict[str, Any]:
    return {
        "event_id": ev["id"], "endpoint": endpoint, "state": state, "event_time": ev["time"],
        "action": ev["action"], "repository": ev["repository"], "tag": ev["tag"],
        "digest": ev["digest"], "attempts": 0, "last_status": None, "last_error_class": None,
        "last_error": None, "updated": now, "delivered_at": None, "latency_ms": None,
        "next_attempt": None,
    }


def _fold(items: Sequence[Settled], notifier: str) -> tuple[
        dict[str, dict], dict[tuple[str, str], dict], list[dict], list[Settled]]:
    """Events, delivery rows (one per key, the latest state, attempts summed), attempt rows, and
    the fan-outs, from a batch in the order it happened."""
    event_rows: dict[str, dict] = {}
    rows: dict[tuple[str, str], dict] = {}
    attempt_rows: list[dict] = []
    fanouts: list[Settled] = []
    for item in items:
        event_id = str(item.event.get("id") or "")
        if not event_id:
            continue
        ev = event_rows.get(event_id)
        if ev is None:
            ev = event_rows[event_id] = event_row(item.event, item.routing_key, item.at,
                                                  item.body)
        key = (event_id, item.endpoint)
        row = rows.get(key)
        if row is None:
            row = rows[key] = _delivery_row(item.endpoint, item.event, ev, item.state, item.at)
        row["state"] = item.state
        row["updated"] = item.at
        row["next_attempt"] = item.next_attempt
        a = item.attempt
        if a is not None:
            row["attempts"] += 1
            row["last_status"] = a.status
            row["last_error_class"] = a.error_class
            row["last_error"] = a.error
            if item.state == DELIVERED:
                done = a.started + a.duration_ms / 1000
                row["delivered_at"] = done
                row["latency_ms"] = max(0.0, (done - ev["time"]) * 1000)
            attempt_rows.append({
                "event_id": event_id, "endpoint": item.endpoint, "time": a.started,
                "notifier": notifier,
                "duration_ms": a.duration_ms,
                "request_headers": _to_json(a.request_headers),
                "status": a.status,
                "response_headers": None if a.response_headers is None else
                _to_json(a.response_headers),
                "response_body": a.response_body, "error_class": a.error_class,
                "error": a.error,
            })
        if item.fanout:
            fanouts.append(item)
    return event_rows, rows, attempt_rows, fanouts


def _settle_conflict(stmt: Any) -> Any:
    """A delivery row meeting its earlier self: the latest state wins, attempts add up, the last
    answer is the latest attempt's."""
    new = stmt.excluded
    had_attempt = new.attempts > 0
    return stmt.on_conflict_do_update(
        index_elements=["event_id", "endpoint"],
        set_={
            "state": new.state,
            "updated": new.updated,
            "next_attempt": new.next_attempt,
            "attempts": deliveries.c.attempts + new.attempts,
            "last_status": sa.case((had_attempt, new.last_status), else_=deliveries.c.last_status),
            "last_error_class": sa.case((had_attempt, new.last_error_class),
                                        else_=deliveries.c.last_error_class),
            "last_error": sa.case((had_attempt, new.last_error), else_=deliveries.c.last_error),
            "delivered_at": sa.func.coalesce(new.delivered_at, deliveries.c.delivered_at),
            "latency_ms": sa.func.coalesce(new.latency_ms, deliveries.c.latency_ms),
        },
    )


def _keep_existing(*keys: str) -> Any:
    return lambda stmt: stmt.on_conflict_do_nothing(index_elements=list(keys))


def write_batch(connection: sa.Connection, items: Sequence[Settled], notifier: str,
                endpoints: Iterable[EndpointConfig], known_events: set[str] | None = None,
                route: CopyRoute | None = None) -> None:
    """Write ``items`` in the caller's transaction. ``known_events``: ids this process has
    already written (their event rows are skipped); updated with the new ones. ``route``: a
    writer's memory of which tables' rows may be copied straight in."""
    event_rows, rows, attempt_rows, fanouts = _fold(items, notifier)
    new_events = [r for i, r in event_rows.items() if known_events is None or i not in known_events]
    write_rows(connection, events, new_events, _keep_existing("id"), route)
    pending = []
    for item in fanouts:
        ev = event_rows[str(item.event["id"])]
        for endpoint in endpoints:
            if endpoint.name != item.endpoint and (ev["id"], endpoint.name) not in rows:
                state = FILTERED if ignore_reason(endpoint, item.event) else PENDING
                pending.append(_delivery_row(endpoint.name, item.event, ev, state, item.at))
    write_rows(connection, deliveries, pending, _keep_existing("event_id", "endpoint"), route)
    write_rows(connection, deliveries, list(rows.values()), _settle_conflict, route)
    write_rows(connection, attempts, attempt_rows)
    if known_events is not None:
        known_events.update(event_rows)


def record_event(connection: sa.Connection, event: dict[str, Any], routing_key: str | None,
                 endpoint: str, state: str = PENDING) -> None:
    """An event an operator sends (a test event) and its delivery to ``endpoint``, before it is
    published: the history shows it from the start."""
    ev = event_row(event, routing_key)
    connection.execute(insert(connection, events).on_conflict_do_nothing(index_elements=["id"]), [ev])
    connection.execute(insert(connection, deliveries).on_conflict_do_nothing(
        index_elements=["event_id", "endpoint"]),
        [_delivery_row(endpoint, event, ev, state, time.time())])


def heartbeat(connection: sa.Connection, notifier: str, host: str, pid: int, started: float,
              now: float | None = None) -> None:
    """The notifier is alive (the console lists the notifiers seen recently)."""
    now = now or time.time()
    stmt = insert(connection, notifiers).values(id=notifier, host=host, pid=pid, started=started,
                                                last_seen=now)
    connection.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                                  set_={"last_seen": now}))


def mark_pending(connection: sa.Connection, endpoint: str,
                 items: Iterable[tuple[dict[str, Any], str]]) -> None:
    """Events an operator sends to ``endpoint`` again (resend, backfill, replay): their delivery
    is pending (created for an endpoint that never had it). Attempts made before stay."""
    now = time.time()
    event_rows = [event_row(event, routing_key, now) for event, routing_key in items]
    if not event_rows:
        return
    connection.execute(insert(connection, events).on_conflict_do_nothing(index_elements=["id"]),
                       event_rows)
    stmt = insert(connection, deliveries)
    connection.execute(
        stmt.on_conflict_do_update(index_elements=["event_id", "endpoint"],
                                   set_={"state": PENDING, "updated": now, "next_attempt": None}),
        [_delivery_row(endpoint, {}, ev, PENDING, now) for ev in event_rows])
