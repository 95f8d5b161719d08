"""The history's side of settling: each outcome the consumer has settled becomes one record for
the history writer (:class:`shared.history.HistoryWriter`), which writes it off the delivery
path. With the history disabled it records nothing."""

from __future__ import annotations

import time

from services.notifier.outcomes import (
    Delivered,
    Delivery,
    Dropped,
    Filtered,
    Held,
    Outcome,
    RetryLater,
)
from shared.history import HistoryWriter, Settled
from shared.history.records import (
    DEAD,
    DELIVERED,
    FILTERED,
    INTERNAL,
    PENDING,
    RETRYING,
    AttemptRecord,
)


class DeliveryRecorder:
    def __init__(self, writer: HistoryWriter | None):
        self.writer = writer

    @property
    def recording(self) -> bool:
        return self.writer is not None

    def settled(self, endpoint: str, delivery: Delivery, outcome: Outcome) -> None:
        """Record ``outcome``, whose broker action is done."""
        if self.writer is None:
            return
        now = time.time()
        next_attempt = None
        attempt: AttemptRecord | None = None
        if isinstance(outcome, Delivered):
            state, attempt = DELIVERED, outcome.attempt
        elif isinstance(outcome, Filtered):
            state = FILTERED
        elif isinstance(outcome, RetryLater | Dropped | Held):
            state = RETRYING if isinstance(outcome, RetryLater) else \
                DEAD if isinstance(outcome, Dropped) else PENDING
            if isinstance(outcome, RetryLater):
                next_attempt = now + outcome.delay
            failed = outcome.failed
            attempt = failed.attempt if failed is not None else None
            if attempt is None:
                # Not an HTTP attempt's failure: the pipeline itself failed (a bug).
                attempt = AttemptRecord(started=now, duration_ms=0.0, request_headers={},
                                        error_class=(failed.error_class if failed else None) or INTERNAL,
                                        error=outcome.error)
        else:
            return
        self.writer.record(Settled(endpoint=endpoint, event=delivery.event,
                                   routing_key=delivery.routing_key, state=state, at=now,
                                   attempt=attempt, next_attempt=next_attempt,
                                   fanout=delivery.fanout, body=delivery.raw))
