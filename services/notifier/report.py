"""Delivery reporting: the ``notification sent`` line, the sent counter, the delivery latency
(from the registry's event timestamp to the 2xx), attempts per event, and the reference's
``events_total{type="Events"}`` and ``pending_total``."""

from __future__ import annotations

import logging
import time

from services.notifier.metrics import ATTEMPTS, DELIVERY_LATENCY, REF_EVENTS, REF_PENDING, SENT
from services.notifier.outcomes import Delivered, Delivery, Dropped, Held, Outcome, Sink
from shared.direct_lines import DirectLines
from shared.events import event_time
from shared.logfmt import kv

log = logging.getLogger("notifier")


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
        # The one line per delivery: written straight to the log's descriptor where it can be
        # (shared.direct_lines); through logging, eight delivery threads contending for the
        # handler's lock cost a draining notifier at the sample config's level ~100 us of CPU
        # per event (history_bench, 2026-12-07: 271 us per event at warn, 380 us at info).
        self._direct = DirectLines.of(log)

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
                line = kv("notification sent", endpoint=self.name,
                          repository=target.get("repository"), action=delivery.event.get("action"))
                if self._direct is not None:
                    self._direct.write(line)
                else:
                    log.info(line)
        elif isinstance(outcome, Dropped) or (isinstance(outcome, Held) and delivery.attempts == 0):
            self._pending.dec()  # (a held first attempt is counted again when taken again)
        return outcome
