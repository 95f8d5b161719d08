"""Names on the broker: each endpoint's queues, and the headers our messages carry."""

from __future__ import annotations

QUEUE_PREFIX = "registry.notifications."
HEADER_ATTEMPTS = "x-attempts"  # failed attempts so far
HEADER_DUE = "x-due"  # epoch seconds before which a retry must not be attempted
HEADER_ROUTING_KEY = "x-routing-key"  # the event's original routing key (manifest.push ...)
HEADER_ERROR = "x-last-error"  # why the last attempt failed, on dead-lettered events
HEADER_ERROR_CLASS = "x-error-class"  # dns | connect | tls | timeout | status, on dead letters
HEADER_STATUS = "x-last-status"  # the last attempt's HTTP status, on dead letters (if answered)
# Sent to one endpoint by an operator (resend, backfill, replay, test), not fanned out by the
# registry: the history records no pending delivery for the other endpoints.
HEADER_TARGETED = "x-targeted"
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
