"""Retries: when the next attempt comes, and when to give up.

The wait itself is not held here: the consumer parks the event in a broker retry queue (so a
notifier crash loses no retry), and the event comes back with its attempt count in a header.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time

from services.notifier.metrics import ATTEMPTS, DROPPED, FAILED
from services.notifier.outcomes import (
    Delivery,
    Dropped,
    Failed,
    Held,
    Outcome,
    RetryLater,
    Sink,
)
from shared.config import EndpointConfig
from shared.logfmt import kv

log = logging.getLogger("notifier")

# Each wait is drawn from [1 - JITTER, 1] times the nominal one: spread out, never above the cap,
# and still growing (0.8 * 2 > 1).
JITTER = 0.2


def nominal_backoff(endpoint: EndpointConfig, failed_attempts: int) -> float:
    """The wait after ``failed_attempts`` failures: backoff, doubling each retry, capped."""
    if failed_attempts < 1:
        return 0.0
    cap = max(endpoint.maxbackoff, endpoint.backoff)
    return min(endpoint.backoff * (2 ** (failed_attempts - 1)), cap)


def backoff_delay(endpoint: EndpointConfig, failed_attempts: int,
                  retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """The wait before the next attempt: the jittered backoff, or longer if the endpoint said
    so with Retry-After (never beyond the cap)."""
    nominal = nominal_backoff(endpoint, failed_attempts)
    delay = nominal * (1 - JITTER * (rng or random).random())
    if retry_after is not None:
        cap = max(endpoint.maxbackoff, endpoint.backoff)
        delay = max(delay, min(retry_after, cap))
    return delay


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; None if absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def after_failure(endpoint: EndpointConfig, delivery: Delivery,
                  failed: Failed) -> RetryLater | Dropped | Held:
    """What a failed attempt leads to: a later retry, or dropping the event after ``threshold``
    attempts (at once on 410 Gone); for the probe of an auto-paused endpoint, back to the queue
    with no attempt used up (it waits for the endpoint, not for its retries). Counted and
    logged here, whatever made the attempt fail."""
    name = endpoint.name
    attempt = delivery.attempts + 1
    FAILED.labels(endpoint=name).inc()
    log.warning(kv("notification failed", endpoint=name, error=failed.error, attempt=attempt,
                   probe="true" if delivery.probe else None))
    if delivery.probe and not failed.gone:
        return Held(attempts=delivery.attempts, error=failed.error, failed=failed)
    if failed.gone or attempt >= endpoint.threshold:
        DROPPED.labels(endpoint=name).inc()
        ATTEMPTS.labels(endpoint=name).observe(attempt)
        log.error(kv("notification dropped", endpoint=name, attempts=attempt))
        return Dropped(attempts=attempt, error=failed.error, failed=failed)
    delay = backoff_delay(endpoint, attempt, failed.retry_after)
    return RetryLater(delay=delay, attempts=attempt, error=failed.error, failed=failed)


class RetrySink:
    """Turns a failed attempt into its consequence (:func:`after_failure`)."""

    def __init__(self, endpoint: EndpointConfig, inner: Sink):
        self.endpoint = endpoint
        self.inner = inner

    def deliver(self, delivery: Delivery) -> Outcome:
        outcome = self.inner.deliver(delivery)
        if not isinstance(outcome, Failed):
            return outcome
        return after_failure(self.endpoint, delivery, outcome)
