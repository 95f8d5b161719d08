"""Which events an endpoint does not want: the one rule the notifier's filter stage and the
operator's backfill both apply.

Each list is enough on its own to drop an event (the reference before 3.1 ignored
``ignore.actions`` when no media types were set; we do not).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from shared.config import EndpointConfig
from shared.events import TEST_ACTION


def ignore_reason(endpoint: EndpointConfig, event: dict[str, Any]) -> str | None:
    """Why ``endpoint`` does not want ``event``, or None if it does. A test event (an operator
    trying the endpoint) passes every filter."""
    if event.get("action") == TEST_ACTION:
        return None
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
