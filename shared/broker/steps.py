"""The waits a retry can use. On RabbitMQ each is a retry queue with that TTL, so the steps
are part of the topology as much as of the retry rule."""

from __future__ import annotations

from shared.config import EndpointConfig

MAX_RETRY_STEPS = 24


def retry_steps(endpoint: EndpointConfig) -> list[float]:
    """The waits a retry can use: backoff, doubling, until the cap (the cap included). With no
    backoff (retries at once), 0 and then 1 s doubling to the cap: the waits left for a
    Retry-After answer, which a retry must not come sooner than (on RabbitMQ a retry waits in
    the queue of its step)."""
    cap = max(endpoint.maxbackoff, endpoint.backoff)
    steps: list[float] = []
    delay = endpoint.backoff
    if delay <= 0:
        steps.append(0.0)
        if cap <= 0:
            return steps
        delay = min(1.0, cap)
    while delay < cap and len(steps) < MAX_RETRY_STEPS - 1:
        steps.append(delay)
        delay *= 2
    steps.append(cap)
    return steps


def step_for(endpoint: EndpointConfig, wanted: float) -> float:
    """The smallest retry step at least ``wanted`` long (the cap if none is)."""
    steps = retry_steps(endpoint)
    for step in steps:
        if step >= wanted - 1e-9:
            return step
    return steps[-1]
