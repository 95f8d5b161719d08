"""What the history's read functions return: plain dataclasses whose ``to_json()`` is the JSON
contract of ``registry deliveries ... --json`` and ``registry endpoints list --json`` (the same
field names for the console). Times are RFC 3339 UTC strings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def iso(stamp: float | None) -> str | None:
    """``2026-12-07T10:04:05.123Z`` (milliseconds), or None."""
    if stamp is None:
        return None
    whole = int(stamp)
    millis = int(round((stamp - whole) * 1000))
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _json_or_none(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, newest first; ``next_cursor`` asks for the page after it."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class DeliveryRow:
    """One event's delivery to one endpoint (a ``deliveries list`` line)."""

    event_id: str
    endpoint: str
    state: str
    action: str
    repository: str | None
    tag: str | None
    digest: str | None
    time: str | None  # the event's time
    attempts: int
    last_status: int | None
    # Not in the JSON line; for the console.
    error_class: str | None = None
    error: str | None = None
    updated: str | None = None
    next_retry: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "endpoint": self.endpoint, "state": self.state,
                "action": self.action, "repository": self.repository, "tag": self.tag,
                "digest": self.digest, "time": self.time, "attempts": self.attempts,
                "last_status": self.last_status}


@dataclass(frozen=True)
class AttemptView:
    number: int  # 1, 2, ... per delivery, in time order (a replay's attempts continue the count)
    time: str | None
    notifier: str
    duration_ms: float
    request_headers: dict[str, str]  # secret values are "***"
    status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    error_class: str | None  # dns | connect | tls | timeout | status | internal
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "time": self.time, "notifier": self.notifier,
                "duration_ms": self.duration_ms, "request_headers": self.request_headers,
                "status": self.status, "response_headers": self.response_headers,
                "response_body": self.response_body, "error_class": self.error_class,
                "error": self.error}

    @classmethod
    def from_row(cls, number: int, row: Any) -> AttemptView:
        return cls(number=number, time=iso(row["time"]), notifier=row["notifier"],
                   duration_ms=round(float(row["duration_ms"]), 3),
                   request_headers=_json_or_none(row["request_headers"]) or {},
                   status=row["status"], response_headers=_json_or_none(row["response_headers"]),
                   response_body=row["response_body"], error_class=row["error_class"],
                   error=row["error"])


@dataclass(frozen=True)
class DeliveryDetail:
    endpoint: str
    state: str
    attempts: list[AttemptView]
    # Not in the JSON; for the console.
    next_retry: str | None = None
    latency_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "state": self.state,
                "attempts": [a.to_json() for a in self.attempts]}


@dataclass(frozen=True)
class EventDetail:
    """An event and its delivery to every endpoint (``deliveries show``)."""

    event: dict[str, Any]
    deliveries: list[DeliveryDetail]
    routing_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "deliveries": [d.to_json() for d in self.deliveries]}


@dataclass(frozen=True)
class EventSummary:
    """An event found by :func:`shared.history.queries.search_events`, with its fan-out."""

    id: str
    time: str | None
    action: str
    repository: str | None
    tag: str | None
    digest: str | None
    media_type: str | None
    actor: str | None
    deliveries: dict[str, str] = field(default_factory=dict)  # endpoint -> state

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "action": self.action,
                "repository": self.repository, "tag": self.tag, "digest": self.digest,
                "media_type": self.media_type, "actor": self.actor,
                "deliveries": dict(self.deliveries)}


@dataclass(frozen=True)
class EndpointStats:
    """What the history knows of an endpoint over a recent window."""

    name: str
    attempts: int = 0  # attempts made in the window
    success_rate: float | None = None  # share of those answered 2xx (None: no attempt)
    p50_ms: float | None = None  # event time to 2xx, deliveries of events in the window
    p95_ms: float | None = None
    last_status: int | None = None  # of the latest attempt (None: no answer, or none made)
    last_error_class: str | None = None
    last_attempt: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "attempts": self.attempts, "success_rate": self.success_rate,
                "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "last_status": self.last_status,
                "last_error_class": self.last_error_class, "last_attempt": self.last_attempt}


@dataclass(frozen=True)
class NotifierSeen:
    id: str
    host: str
    pid: int
    started: str | None
    last_seen: str | None
    alive: bool  # stamped within the last 30 s

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "host": self.host, "pid": self.pid, "started": self.started,
                "last_seen": self.last_seen, "alive": self.alive}


@dataclass(frozen=True)
class Overview:
    """The console's front page figures over the last ``window_seconds``."""

    window_seconds: float
    events_per_minute: list[tuple[str, int]]  # (minute, events), oldest first, empty minutes 0
    events: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    notifiers: list[NotifierSeen]

    def to_json(self) -> dict[str, Any]:
        return {"window_seconds": self.window_seconds,
                "events_per_minute": [{"minute": m, "events": n} for m, n in self.events_per_minute],
                "events": self.events, "success_rate": self.success_rate,
                "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
                "notifiers": [n.to_json() for n in self.notifiers]}
