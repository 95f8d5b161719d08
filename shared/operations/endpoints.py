"""Endpoints as an operator sees them, and what an operator does to one: pause, resume, send a
test event.

A summary joins three sources: the config (enabled or disabled), the broker (events queued,
waiting for a retry, dead) and the history (paused or not, success rate, p95, last status).
Either of the last two may be unreachable: its fields are then None.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kombu.exceptions import OperationalError

from shared.broker import connected, node_connection, topology_for
from shared.config import Config
from shared.events import TEST_ACTION, rfc3339_now
from shared.history import controls, queries
from shared.history.engine import HistoryUnavailable
from shared.history.records import PENDING
from shared.history.store import HistoryStore
from shared.history.views import DeliveryDetail, iso
from shared.history.writes import record_event
from shared.logfmt import kv
from shared.operations.metrics import RESENT
from shared.operations.publishing import configured_endpoint, send_to_endpoint
from shared.operations.queue_counts import QueueCounts, queue_counts

log = logging.getLogger("registry.endpoints")

ACTIVE, PAUSED, AUTO_PAUSED, DISABLED = "active", "paused", "auto-paused", "disabled"
TEST_ROUTING_KEY = "endpoint.test"
STATS_WINDOW = 3600.0  # success rate and p95 are over the last hour


@dataclass(frozen=True)
class EndpointSummary:
    """An ``endpoints list`` line (``to_json``) and what the console shows beside it."""

    name: str
    state: str  # active | paused | auto-paused | disabled
    queued: int | None
    retrying: int | None
    dead: int | None
    success_rate: float | None  # share of the last hour's attempts answered 2xx
    p95_ms: float | None  # event time to 2xx, last hour
    last_status: int | None
    # Not in the JSON line; for the console.
    url: str = ""  # without credentials
    p50_ms: float | None = None
    attempts: int | None = None  # made in the last hour
    last_error_class: str | None = None
    last_attempt: str | None = None
    paused_since: str | None = None
    paused_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "queued": self.queued,
                "retrying": self.retrying, "dead": self.dead, "success_rate": self.success_rate,
                "p95_ms": self.p95_ms, "last_status": self.last_status}


def url_without_credentials(url: str) -> str:
    """An endpoint's URL as shown to people (the console, its copy-as-curl): no user or password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def _broker_counts(config: Config, names: list[str]) -> dict[str, QueueCounts]:
    topology = topology_for(config)
    try:
        with connected(config, purpose="consume", rounds=2) as connection:
            return {name: queue_counts(config, topology, connection, name) for name in names}
    except (OperationalError, *node_connection(config).connection_errors) as exc:
        log.warning(kv("broker unreachable, queue counts left out", error=f"{type(exc).__name__}: {exc}"))
        return {}


def list_endpoints(config: Config, store: HistoryStore | None) -> list[EndpointSummary]:
    """Every configured endpoint, in config order."""
    names = [e.name for e in config.notifications.endpoints]
    counts = _broker_counts(config, names)
    states: dict[str, controls.Control] = {}
    stats = {}
    if store is not None:
        try:
            states = controls.read_controls(store)
            stats = queries.endpoint_stats(store, names, STATS_WINDOW)
        except HistoryUnavailable as exc:
            log.warning(kv("delivery history unavailable, its figures left out", error=str(exc)[:300]))
    out = []
    for endpoint in config.notifications.endpoints:
        control = states.get(endpoint.name)
        if endpoint.disabled:
            state = DISABLED
        elif control is not None and control.paused:
            state = AUTO_PAUSED if control.reason == controls.AUTO else PAUSED
        else:
            state = ACTIVE
        c = counts.get(endpoint.name)
        s = stats.get(endpoint.name)
        out.append(EndpointSummary(
            name=endpoint.name, state=state,
            queued=c.queued if c else None, retrying=c.retrying if c else None,
            dead=c.dead if c else None,
            success_rate=s.success_rate if s else None, p95_ms=s.p95_ms if s else None,
            last_status=s.last_status if s else None, url=url_without_credentials(endpoint.url),
            p50_ms=s.p50_ms if s else None, attempts=s.attempts if s else None,
            last_error_class=s.last_error_class if s else None,
            last_attempt=s.last_attempt if s else None,
            paused_since=iso(control.since) if control and control.paused else None,
            paused_by=control.by if control and control.paused else None))
    return out


def pause_endpoint(config: Config, store: HistoryStore, name: str, by: str = "operator") -> bool:
    """Pause ``name`` on every notifier (within a second); its events wait in its queue. False
    when it was paused already."""
    configured_endpoint(config, name, enabled=False)
    changed = controls.set_paused(store, name, controls.OPERATOR, by)
    if changed:
        log.info(kv("endpoint paused", endpoint=name, reason=controls.OPERATOR, by=by))
    return changed


def resume_endpoint(config: Config, store: HistoryStore, name: str) -> bool:
    """Resume ``name`` (paused by an operator or automatically); its backlog flows in order.
    False when it was not paused."""
    configured_endpoint(config, name, enabled=False)
    changed = controls.set_resumed(store, name)
    if changed:
        log.info(kv("endpoint resumed", endpoint=name))
    return changed


def test_event(endpoint: str) -> dict[str, Any]:
    """An event with action ``test``: it passes every filter of the endpoint it is sent to."""
    host = socket.gethostname()
    return {
        "id": str(uuid.uuid4()),
        "timestamp": rfc3339_now(),
        "action": TEST_ACTION,
        "target": {"repository": "registry/test-event"},
        "request": {"id": str(uuid.uuid4()), "addr": "", "host": host, "method": "POST",
                    "useragent": "registry endpoints test"},
        "actor": {"name": "operator"},
        "source": {"addr": host, "instanceID": f"endpoints-test-{endpoint}"},
    }


def send_test_event(config: Config, store: HistoryStore, name: str) -> str:
    """Send a test event to ``name``; its id. Its attempt shows in the history like any
    delivery's (:func:`wait_for_attempt`)."""
    endpoint = configured_endpoint(config, name)
    event = test_event(name)
    with store.begin() as connection:
        record_event(connection, event, TEST_ROUTING_KEY, name, PENDING)
    send_to_endpoint(config, endpoint, [[(event, TEST_ROUTING_KEY)]])
    RESENT.labels(endpoint=name).inc()
    return event["id"]


def wait_for_attempt(store: HistoryStore, event_id: str, endpoint: str,
                     timeout: float) -> DeliveryDetail | None:
    """The delivery of ``event_id`` to ``endpoint`` once it has an attempt (or is settled
    without one); None if that takes longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        detail = queries.show_event(store, event_id, endpoint)
        if detail is not None:
            for delivery in detail.deliveries:
                if delivery.attempts or delivery.state not in (PENDING, "paused"):
                    return delivery
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)
