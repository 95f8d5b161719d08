"""Metrics of the operator actions (the notifier sets the dead-letter depth too)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEADLETTER_DEPTH = Gauge(
    "registry_notifications_deadletter_depth", "Events parked in the endpoint's dead-letter queue",
    ["endpoint"], multiprocess_mode="max",
)
REPLAYED = Counter(
    "registry_notifications_replayed_total", "Dead-lettered events sent back for delivery",
    ["endpoint"],
)
RESENT = Counter(
    "registry_notifications_resent_total",
    "Events an operator sent to an endpoint again (resend, backfill, test)", ["endpoint"],
)
