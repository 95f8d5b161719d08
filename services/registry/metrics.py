"""The registry's Prometheus metrics. Names follow Prometheus conventions; the reference
registry's names (``registry_http_*``, ``registry_storage_*``) are kept so its dashboards work."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# Label values taken from a request come from a fixed set, so a client cannot add series:
# handler is a route name (base, manifest, tags, blob, blob_upload, blob_upload_chunk, catalog,
# referrers, or "unknown" for a path that is none), method goes through method_label().
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The ``method`` label of a request: its method when the API has it, else ``other``
    (``curl -X XQZONE`` made a series per invented method and route)."""
    return method if method in KNOWN_METHODS else "other"


HTTP_REQUESTS = Counter(
    "registry_http_requests_total", "HTTP requests served", ["handler", "method", "code"]
)
HTTP_DURATION = Histogram(
    "registry_http_request_duration_seconds",
    "HTTP request latency",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_IN_FLIGHT = Gauge(
    "registry_http_in_flight_requests", "Requests being served", ["handler"],
    multiprocess_mode="livesum",
)
_BYTE_BUCKETS = (512, 4096, 65536, 1 << 20, 16 << 20, 128 << 20, 1 << 30)
HTTP_REQUEST_BYTES = Histogram(
    "registry_http_request_size_bytes", "Request body sizes", ["handler"], buckets=_BYTE_BUCKETS
)
HTTP_RESPONSE_BYTES = Histogram(
    "registry_http_response_size_bytes", "Response body sizes", ["handler"], buckets=_BYTE_BUCKETS
)
STORAGE_ACTION = Histogram(
    "registry_storage_action_seconds", "Storage driver call latency", ["driver", "action"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
CACHE_REQUESTS = Counter("registry_storage_cache_requests_total", "Blob descriptor cache lookups")
CACHE_HITS = Counter("registry_storage_cache_hits_total", "Blob descriptor cache hits")
CACHE_ERRORS = Counter("registry_storage_cache_errors_total", "Blob descriptor cache errors")
CACHE_REDIS = Histogram(
    "registry_storage_cache_redis_seconds", "Redis cache call latency", ["operation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
)
EVENTS_PUBLISHED = Counter(
    "registry_events_published_total", "Events handed to the broker", ["action", "kind"]
)
EVENTS_SPOOLED = Counter(
    "registry_events_spooled_total", "Events written to the local spool (broker unreachable)"
)
PUBLISH_FAILURES = Counter(
    "registry_events_publish_failures_total", "Failed attempts to publish to the broker"
)
SPOOL_DEPTH = Gauge(
    "registry_events_spool_depth", "Events waiting in the local spool", multiprocess_mode="max"
)


class LabelledChildren:
    """``metric.labels(*values)``, remembered. Each request records about ten samples, and
    prometheus-client's ``labels`` takes a lock and checks its arguments on every call; the
    values here come from the fixed sets above, so the dictionary stays small."""

    def __init__(self, metric: Any):
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:  # two threads may both ask: labels() gives both the same child
            child = self._children[values] = self._metric.labels(*values)
        return child


http_requests = LabelledChildren(HTTP_REQUESTS)
http_duration = LabelledChildren(HTTP_DURATION)
http_in_flight = LabelledChildren(HTTP_IN_FLIGHT)
http_request_bytes = LabelledChildren(HTTP_REQUEST_BYTES)
http_response_bytes = LabelledChildren(HTTP_RESPONSE_BYTES)
storage_action = LabelledChildren(STORAGE_ACTION)
