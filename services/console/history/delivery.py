"""``/deliveries/<event id>``: an event and its delivery to every endpoint: the attempt timeline
(request headers masked, the answer's status, headers and body, the error class), the next
retry, and per endpoint the request as ``curl`` (secrets masked) and the body it gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.history.endpoints import configured
from services.console.history.requests import Body, bodies, curl_command
from shared.config import Config, EndpointConfig
from shared.events import routing_key_for
from shared.history.store import HistoryStore
from shared.history.views import DeliveryDetail


@dataclass(frozen=True)
class EndpointDelivery:
    detail: DeliveryDetail
    endpoint: EndpointConfig | None  # None: no longer in the config
    curl: str | None

    @property
    def last_error_class(self) -> str | None:
        return self.detail.attempts[-1].error_class if self.detail.attempts else None

    def to_json(self) -> dict[str, Any]:
        return {**self.detail.to_json(), "next_retry": self.detail.next_retry,
                "latency_ms": self.detail.latency_ms,
                "configured": self.endpoint is not None,
                "format": self.endpoint.format if self.endpoint else None,
                "curl": self.curl}


@dataclass(frozen=True)
class DeliveryPage:
    event: dict[str, Any]
    routing_key: str
    deliveries: list[EndpointDelivery]
    bodies: list[Body]

    @property
    def event_id(self) -> str:
        return str(self.event.get("id") or "")

    @property
    def settling(self) -> bool:
        """Some delivery is still on its way (the page follows it)."""
        return any(d.detail.state in ("pending", "retrying", "paused") for d in self.deliveries)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "routing_key": self.routing_key,
                "deliveries": [d.to_json() for d in self.deliveries],
                "bodies": {b.format: {"content_type": b.content_type, "text": b.text}
                           for b in self.bodies}}


def delivery_page(config: Config, store: HistoryStore, event_id: str,
                  endpoint: str | None = None) -> DeliveryPage | None:
    """None for an event the history does not have."""
    from shared.history import show_event

    found = show_event(store, event_id, endpoint=endpoint)
    if found is None:
        return None
    routing_key = found.routing_key or routing_key_for(found.event)
    out = []
    for detail in found.deliveries:
        ep = configured(config, detail.endpoint)
        sent = detail.attempts[-1].request_headers if detail.attempts else None
        out.append(EndpointDelivery(
            detail, ep, curl_command(ep, found.event, routing_key, sent) if ep else None))
    return DeliveryPage(found.event, routing_key, out, bodies(found.event, routing_key))
