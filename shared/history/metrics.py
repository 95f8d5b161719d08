"""The history writer's metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

HISTORY_DROPPED = Counter(
    "registry_notifications_history_dropped_total",
    "Delivery records the history could not keep (its database slow or down, the queue full)",
)
HISTORY_WRITTEN = Counter(
    "registry_notifications_history_written_total", "Delivery records written to the history",
)
HISTORY_BACKLOG = Gauge(
    "registry_notifications_history_backlog",
    "Delivery records waiting to be written to the history", multiprocess_mode="max",
)
