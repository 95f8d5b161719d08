"""``/endpoints`` and ``/endpoints/<name>``: every endpoint's state and figures (config, broker
and history joined by :func:`shared.operations.endpoints.list_endpoints`), what needs an
operator's attention, and an endpoint's recent deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.console.history.access import History
from services.console.history.times import BadFilter
from shared.config import Config, EndpointConfig
from shared.history.engine import HistoryUnavailable
from shared.history.views import DeliveryRow, Page
from shared.operations.endpoints import (
    AUTO_PAUSED,
    PAUSED,
    EndpointSummary,
    list_endpoints,
)

HEALTHY_SUCCESS_RATE = 0.95  # below this share of 2xx over the last hour, an endpoint is flagged
RECENT = 25  # deliveries listed on an endpoint's page


def attention(s: EndpointSummary) -> list[str]:
    """Why an operator should look at this endpoint (nothing: it is fine)."""
    reasons = []
    if s.state == AUTO_PAUSED:
        reasons.append("auto-paused: every delivery was failing; probed once a minute")
    elif s.state == PAUSED:
        reasons.append(f"paused by {s.paused_by or 'an operator'}: its events wait in its queue")
    if s.dead:
        reasons.append(f"{s.dead} dead letter{'s' if s.dead != 1 else ''}")
    if s.retrying:
        reasons.append(f"{s.retrying} waiting for a retry")
    if s.success_rate is not None and s.success_rate < HEALTHY_SUCCESS_RATE:
        reasons.append(f"{s.success_rate:.0%} of the last hour's attempts succeeded")
    if s.last_status is not None and not 200 <= s.last_status < 300:
        reasons.append(f"last attempt answered {s.last_status}")
    elif s.last_status is None and s.last_error_class:
        reasons.append(f"last attempt failed: {s.last_error_class}")
    return reasons


def summary_json(s: EndpointSummary) -> dict[str, Any]:
    """The ``endpoints list --json`` fields, and what the console shows beside them."""
    return {**s.to_json(), "url": s.url, "p50_ms": s.p50_ms, "attempts": s.attempts,
            "last_error_class": s.last_error_class, "last_attempt": s.last_attempt,
            "paused_since": s.paused_since, "paused_by": s.paused_by,
            "attention": attention(s)}


def endpoints(config: Config, history: History) -> list[EndpointSummary]:
    """Every configured endpoint; broker or history figures None where either is unreachable."""
    return list_endpoints(config, history.store)


def configured(config: Config, name: str) -> EndpointConfig | None:
    return next((e for e in config.notifications.endpoints if e.name == name), None)


@dataclass
class EndpointPage:
    endpoint: EndpointConfig
    summary: EndpointSummary
    state: str | None  # the deliveries' state filter
    deliveries: Page[DeliveryRow] | None  # None: no history to read them from
    history_error: str | None = None
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": {**summary_json(self.summary), "format": self.endpoint.format,
                         "threshold": self.endpoint.threshold,
                         "backoff_ms": round(self.endpoint.backoff * 1000),
                         "timeout_ms": round(self.endpoint.timeout * 1000),
                         "headers": sorted(self.endpoint.headers)},
            "deliveries": None if self.deliveries is None else {
                "items": [{**r.to_json(), "error_class": r.error_class, "updated": r.updated,
                           "next_retry": r.next_retry} for r in self.deliveries.items],
                "next_cursor": self.deliveries.next_cursor},
            "history_error": self.history_error,
        }


def endpoint_page(config: Config, history: History, name: str, state: str | None = None,
                  cursor: str | None = None) -> EndpointPage | None:
    """None for a name the config does not have."""
    from shared.history import list_deliveries

    endpoint = configured(config, name)
    if endpoint is None:
        return None
    summary = next(s for s in endpoints(config, history) if s.name == name)
    page, error = None, None
    if history.store is not None:
        try:
            page = list_deliveries(history.store, endpoint=name, state=state, limit=RECENT,
                                   cursor=cursor)
        except HistoryUnavailable as exc:
            error = str(exc)
        except ValueError as exc:  # a cursor that is not one of this listing's
            raise BadFilter(str(exc)) from None
    return EndpointPage(endpoint, summary, state, page, error, attention(summary))

