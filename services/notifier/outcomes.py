"""What one pass of an event through an endpoint's pipeline decided.

Every stage of the pipeline (filter, report, retry, HTTP send) is a :class:`Sink`: it takes a
:class:`Delivery` and returns an outcome; the consumer turns the final outcome into a broker
action (ack, republish to a retry queue, park in the dead-letter queue, return to the queue),
then hands it to the history and the pause gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.history.records import AttemptRecord


@dataclass(frozen=True)
class Delivery:
    event: dict[str, Any]
    routing_key: str  # manifest.push, blob.pull ...: the event's kind and action
    attempts: int = 0  # failed attempts before this one
    # First seen on the events exchange (not a retry, nor sent to this endpoint alone): every
    # endpoint has a copy, which the history records as pending until each settles it.
    fanout: bool = False
    # The one attempt an auto-paused endpoint gets a minute: failed, the event goes back to the
    # queue as it came (no attempt used up); delivered, the endpoint resumes.
    probe: bool = False
    # The event's JSON as it came (kept as it is by the history).
    raw: bytes | str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Delivered:
    status: int
    attempt: AttemptRecord | None = None  # what was sent and answered (when history is kept)


@dataclass(frozen=True)
class Filtered:
    reason: str


@dataclass(frozen=True)
class Failed:
    """One attempt failed (returned by the HTTP stage only)."""

    error: str
    status: int | None = None
    retry_after: float | None = None  # seconds the endpoint asked us to wait (429/503)
    gone: bool = False  # 410: the endpoint wants no more deliveries of this event
    error_class: str | None = None  # dns | connect | tls | timeout | status | internal
    attempt: AttemptRecord | None = None


@dataclass(frozen=True)
class RetryLater:
    delay: float  # seconds before the next attempt
    attempts: int  # failed attempts so far
    error: str
    failed: Failed | None = field(default=None, compare=False)  # the attempt that failed


@dataclass(frozen=True)
class Dropped:
    attempts: int
    error: str
    failed: Failed | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Held:
    """A probe of an auto-paused endpoint failed: the event goes back to the endpoint's queue
    as it came, its attempt count unchanged."""

    attempts: int
    error: str
    failed: Failed | None = field(default=None, compare=False)


Outcome = Delivered | Filtered | Failed | RetryLater | Dropped | Held


class Sink(Protocol):
    def deliver(self, delivery: Delivery) -> Outcome: ...
