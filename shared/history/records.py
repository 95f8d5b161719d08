"""What a notifier hands the history: one settled delivery and the attempt that settled it.

Built on the delivery path, so kept cheap: plain dataclasses (no slots: those pickle through
Python code on their way to the writer process), the event as the dict the
notifier already decoded. Request headers are masked here, before they leave the HTTP stage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A delivery's states. A notifier stores the first five; "paused" is how a pending delivery of a
# paused endpoint reads (its event waits in the endpoint's queue).
DELIVERED, RETRYING, DEAD, FILTERED, PENDING, PAUSED = (
    "delivered", "retrying", "dead", "filtered", "pending", "paused")
STATES = (DELIVERED, RETRYING, DEAD, FILTERED, PAUSED, PENDING)

# Why an attempt failed: the name did not resolve, no connection, TLS refused, no answer in
# time, or an answer that is not 2xx. "internal": the notifier itself failed (a bug).
DNS, CONNECT, TLS, TIMEOUT, STATUS, INTERNAL = "dns", "connect", "tls", "timeout", "status", "internal"
ERROR_CLASSES = (DNS, CONNECT, TLS, TIMEOUT, STATUS)

# The start of a failed attempt's error text by class (services.notifier.delivery writes them).
_ERROR_PREFIXES = (("HTTP ", STATUS), ("dns error", DNS), ("connection error", CONNECT),
                   ("tls error", TLS), ("timeout", TIMEOUT), ("internal error", INTERNAL))

MASK = "***"
# Headers whose values are secrets whatever the config says (Standard Webhooks signatures).
SECRET_HEADERS = frozenset({"webhook-signature", "authorization", "proxy-authorization"})


def mask_headers(headers: Mapping[str, str], configured: Iterable[str]) -> dict[str, str]:
    """The headers as the history shows them: names kept, the values of configured headers
    (they may hold tokens) and of signatures replaced by ``***``."""
    secret = SECRET_HEADERS | {name.lower() for name in configured}
    return {name: MASK if name.lower() in secret else value for name, value in headers.items()}


def error_class_of(error: str | None) -> str | None:
    """The class of a failed attempt from its error text (dead letters parked before they
    carried the class in a header)."""
    for prefix, error_class in _ERROR_PREFIXES:
        if error and error.startswith(prefix):
            return error_class
    return None


@dataclass(frozen=True)
class AttemptRecord:
    """One HTTP attempt: when it started, how long it took, what was sent and answered."""

    started: float  # epoch seconds
    duration_ms: float
    request_headers: dict[str, str]  # masked
    status: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None  # the first maxbodybytes, decoded leniently
    error_class: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Settled:
    """A delivery's state after one pass through an endpoint's pipeline, its broker action
    done (delivered, filtered, parked for a retry, dead-lettered, or left queued)."""

    endpoint: str
    event: dict[str, Any]
    routing_key: str
    state: str
    at: float  # epoch seconds
    attempt: AttemptRecord | None = None
    next_attempt: float | None = None  # a retry's due time
    fanout: bool = False  # first seen from the events exchange: every endpoint has a copy
    body: bytes | str | None = None  # the event's JSON as received, if at hand

    def __reduce__(self) -> tuple:
        # To the writer process: the JSON as received, not the decoded event beside it (the
        # notifier's cost per event is what a backlog drains at; the writer decodes it).
        if self.body is None:
            return (Settled, (self.endpoint, self.event, self.routing_key, self.state, self.at,
                              self.attempt, self.next_attempt, self.fanout, None))
        return (_from_body, (self.endpoint, self.body, self.routing_key, self.state, self.at,
                             self.attempt, self.next_attempt, self.fanout))


def _from_body(endpoint: str, body: bytes | str, routing_key: str, state: str, at: float,
               attempt: AttemptRecord | None, next_attempt: float | None,
               fanout: bool) -> Settled:
    try:
        event = json.loads(body)
    except ValueError:
        event = {}
    return Settled(endpoint, event if isinstance(event, dict) else {}, routing_key, state, at,
                   attempt, next_attempt, fanout, body)
