"""Names on the broker: each endpoint's queues, and the headers our messages carry."""

from __future__ import annotations

QUEUE_PREFIX = "registry.notifications."
HEADER_ATTEMPTS = "x-attempts"  # failed attempts so far
HEADER_DUE = "x-due"  # epoch seconds before which a retry must not be attempted
HEADER_ROUTING_KEY = "x-routing-key"  # the event's original routing key (manifest.push ...)
HEADER_ERROR = "x-last-error"  # why the last attempt failed, on dead-lettered events
# Set by RabbitMQ on a quorum queue's deliveries: how often the message came back to the queue.
HEADER_DELIVERY_COUNT = "x-delivery-count"


def endpoint_queue_name(endpoint: str) -> str:
    return f"{QUEUE_PREFIX}{endpoint}"


def dead_queue_name(endpoint: str) -> str:
    return f"{QUEUE_PREFIX}{endpoint}.dead"


def retry_queue_name(endpoint: str, delay: float) -> str:
    return f"{QUEUE_PREFIX}{endpoint}.retry.{delay_ms(delay)}ms"


def delay_ms(delay: float) -> int:
    return max(0, int(round(delay * 1000)))
