"""An endpoint's filter stage: passes on only the events it wants
(:func:`shared.endpoint_filters.ignore_reason` is the rule)."""

from __future__ import annotations

from services.notifier.metrics import FILTERED
from services.notifier.outcomes import Delivery, Filtered, Outcome, Sink
from shared.config import EndpointConfig
from shared.endpoint_filters import ignore_reason

__all__ = ["FilterSink", "ignore_reason"]


class FilterSink:
    """Passes on only the events the endpoint wants."""

    def __init__(self, endpoint: EndpointConfig, inner: Sink):
        self.endpoint = endpoint
        self.inner = inner

    def deliver(self, delivery: Delivery) -> Outcome:
        reason = ignore_reason(self.endpoint, delivery.event)
        if reason is not None:
            FILTERED.labels(endpoint=self.endpoint.name).inc()
            return Filtered(reason)
        return self.inner.deliver(delivery)
