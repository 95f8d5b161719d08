"""What a page and its ``/api`` twin look up by a name from the URL or the form, or answer 404
for: one wording of each refusal, whichever of the two asked."""

from __future__ import annotations

import falcon

from services.console.history.delivery import DeliveryPage, delivery_page
from services.console.history.endpoints import configured
from shared.config import Config, EndpointConfig
from shared.history.store import HistoryStore


def endpoint_or_404(config: Config, name: str) -> EndpointConfig:
    endpoint = configured(config, name)
    if endpoint is None:
        raise falcon.HTTPNotFound(title="ENDPOINT_UNKNOWN",
                                  description=f"no endpoint named {name!r} in the configuration")
    return endpoint


def delivery_or_404(config: Config, store: HistoryStore, event_id: str) -> DeliveryPage:
    page = delivery_page(config, store, event_id)
    if page is None:
        raise falcon.HTTPNotFound(title="EVENT_UNKNOWN",
                                  description=f"the delivery history has no event {event_id}")
    return page
