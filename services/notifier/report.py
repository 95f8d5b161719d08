"""Delivery reporting: the ``notification sent`` line, the sent counter, the delivery latency
(from the registry's event timestamp to the 2xx), attempts per event, and the reference's
``events_total{type="Events"}`` and ``pending_total``."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from services.notifier.metrics import ATTEMPTS, DELIVERY_LATENCY, REF_EVENTS, REF_PENDING, SENT
from services.notifier.outcomes import Delivered, Delivery, Dropped, Outcome, Sink
from shared.logfmt import kv

log = logging.getLogger("notifier")


def event_time(timestamp: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp with up to nanoseconds."""
    if not timestamp:
        return None
    text = timestamp.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class ReportSink:
    def __init__(self, endpoint_name: str, inner: Sink):
        self.name = endpoint_name
        self.inner = inner
        # Bound once: a labels() lookup per event is a measurable share of a draining notifier.
        self._events = REF_EVENTS.labels(type="Events", endpoint=endpoint_name)
        self._pending = REF_PENDING.labels(endpoint=endpoint_name)
        self._sent = SENT.labels(endpoint=endpoint_name)
        self._attempts = ATTEMPTS.labels(endpoint=endpoint_name)
        self._latency = DELIVERY_LATENCY.labels(endpoint=endpoint_name)

    def deliver(self, delivery: Delivery) -> Outcome:
        if delivery.attempts == 0:
            self._events.inc()
            self._pending.inc()
        outcome = self.inner.deliver(delivery)
        if isinstance(outcome, Delivered):
            self._pending.dec()
            self._sent.inc()
            self._attempts.observe(delivery.attempts + 1)
            stamp = event_time(delivery.event.get("timestamp"))
            if stamp is not None:
                self._latency.observe(max(0.0, time.time() - stamp))
            if log.isEnabledFor(logging.INFO):
                target = delivery.event.get("target") or {}
                log.info(kv("notification sent", endpoint=self.name,
                            repository=target.get("repository"), action=delivery.event.get("action")))
        elif isinstance(outcome, Dropped):
            self._pending.dec()
        return outcome
