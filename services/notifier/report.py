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

    def deliver(self, delivery: Delivery) -> Outcome:
        if delivery.attempts == 0:
            REF_EVENTS.labels(type="Events", endpoint=self.name).inc()
            REF_PENDING.labels(endpoint=self.name).inc()
        outcome = self.inner.deliver(delivery)
        if isinstance(outcome, Delivered):
            REF_PENDING.labels(endpoint=self.name).dec()
            SENT.labels(endpoint=self.name).inc()
            ATTEMPTS.labels(endpoint=self.name).observe(delivery.attempts + 1)
            stamp = event_time(delivery.event.get("timestamp"))
            if stamp is not None:
                DELIVERY_LATENCY.labels(endpoint=self.name).observe(max(0.0, time.time() - stamp))
            target = delivery.event.get("target") or {}
            log.info(kv("notification sent", endpoint=self.name,
                        repository=target.get("repository"), action=delivery.event.get("action")))
        elif isinstance(outcome, Dropped):
            REF_PENDING.labels(endpoint=self.name).dec()
        return outcome
