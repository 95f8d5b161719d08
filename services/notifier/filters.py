"""An endpoint's filters: which events it does not want.

Each list is enough on its own to drop an event (the reference before 3.1 ignored
``ignore.actions`` when no media types were set; we do not).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from services.notifier.metrics import FILTERED
from services.notifier.outcomes import Delivery, Filtered, Outcome, Sink
from shared.config import EndpointConfig


def ignore_reason(endpoint: EndpointConfig, event: dict[str, Any]) -> str | None:
    """Why ``endpoint`` does not want ``event``, or None if it does."""
    target = event.get("target") or {}
    repository = target.get("repository") or ""
    if event.get("action") in endpoint.ignored_actions:
        return "action"
    if target.get("mediaType") in endpoint.ignored_mediatypes:
        return "mediatype"
    # Patterns match the whole name: library/* takes library/a but not libraryx/a.
    if endpoint.repositories and not any(fnmatchcase(repository, p) for p in endpoint.repositories):
        return "repository"
    if any(fnmatchcase(repository, p) for p in endpoint.ignored_repositories):
        return "repository"
    if endpoint.ignore_headrequests and (event.get("request") or {}).get("method") == "HEAD":
        return "headrequest"
    return None


class FilterSink:
    """Passes on only the events the endpoint wants."""

    def __init__(self, endpoint: EndpointConfig, inner: Sink):
        self.endpoint = endpoint
        self.inner = inner

    def deliver(self, delivery: Delivery) -> Outcome:
        reason = ignore_reason(self.endpoint, delivery.event)
        if reason is not None:
            FILTERED.labels(endpoint=self.endpoint.name).inc()
            return Filtered(reason)
        return self.inner.deliver(delivery)
