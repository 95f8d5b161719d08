"""What one pass of an event through an endpoint's pipeline decided.

Every stage of the pipeline (filter, report, retry, HTTP send) is a :class:`Sink`: it takes a
:class:`Delivery` and returns an outcome; the consumer turns the final outcome into a broker
action (ack, republish to a retry queue, park in the dead-letter queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Delivery:
    event: dict[str, Any]
    routing_key: str  # manifest.push, blob.pull ...: the event's kind and action
    attempts: int = 0  # failed attempts before this one


@dataclass(frozen=True)
class Delivered:
    status: int


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


@dataclass(frozen=True)
class RetryLater:
    delay: float  # seconds before the next attempt
    attempts: int  # failed attempts so far
    error: str


@dataclass(frozen=True)
class Dropped:
    attempts: int
    error: str


Outcome = Delivered | Filtered | Failed | RetryLater | Dropped


class Sink(Protocol):
    def deliver(self, delivery: Delivery) -> Outcome: ...
