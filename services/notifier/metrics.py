"""The notifier's Prometheus metrics, per endpoint; the reference registry's names
(``registry_notifications_events_total{type}``, ``_pending_total``, ``_status_total``) too."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

# Defined beside the operator actions (shared), which set them too.
from shared.operations.metrics import DEADLETTER_DEPTH, REPLAYED, RESENT  # noqa: F401

SENT = Counter(
    "registry_notifications_sent_total", "Events delivered (2xx)", ["endpoint"]
)
FAILED = Counter(
    "registry_notifications_failed_total", "Failed delivery attempts", ["endpoint"]
)
DROPPED = Counter(
    "registry_notifications_dropped_total",
    "Events given up after threshold attempts (parked in the dead-letter queue)",
    ["endpoint"],
)
FILTERED = Counter(
    "registry_notifications_filtered_total", "Events an endpoint's filters left out", ["endpoint"]
)
DELIVERY_LATENCY = Histogram(
    "registry_notifications_delivery_latency_seconds",
    "From the event's timestamp to the endpoint's 2xx",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
ATTEMPTS = Histogram(
    "registry_notifications_attempts", "Attempts per event (delivered or dropped)", ["endpoint"],
    buckets=(1, 2, 3, 4, 5, 7, 10, 15, 20),
)
HTTP_STATUS = Counter(
    "registry_notifications_http_responses_total", "Endpoint answers by status code",
    ["endpoint", "code"],
)
QUEUE_DEPTH = Gauge(
    "registry_notifications_queue_depth", "Messages waiting in the endpoint's queue",
    ["endpoint"], multiprocess_mode="max",
)
# The reference's names, so existing dashboards keep working.
REF_EVENTS = Counter(
    "registry_notifications_events_total",
    "Reference-compatible: type=Events (ingress), Successes, Failures, Errors (per attempt)",
    ["type", "endpoint"],
)
REF_PENDING = Gauge(
    "registry_notifications_pending_total",
    "Reference-compatible: events taken for delivery and not yet finished",
    ["endpoint"], multiprocess_mode="livesum",
)
REF_STATUS = Counter(
    "registry_notifications_status_total",
    "Reference-compatible: responses by '<code> <text>'",
    ["code", "endpoint"],
)

ENDPOINT_PAUSED = Gauge(
    "registry_notifications_endpoint_paused",
    "1 while the endpoint is paused: reason=operator (registry endpoints pause) or auto (every "
    "delivery failing for its autopause time); its events wait in its queue",
    ["endpoint", "reason"], multiprocess_mode="max",
)

def export_endpoints(names: Iterable[str]) -> None:
    """Export each endpoint's counters at 0 from the start. A series that first appears at 1 has
    no ``increase()``, so the first drop after a notifier starts would never fire the
    RegistryNotificationsDropping alert."""
    for name in names:
        for counter in (SENT, FAILED, DROPPED, FILTERED, REPLAYED):
            counter.labels(endpoint=name)
