"""What every resource shares: the domain, the event bridge, and URL building."""

from __future__ import annotations

import falcon

from services.registry.domain.registry import Registry
from services.registry.events.bridge import EventBridge, RequestContext
from services.registry.http.requests import base_url, request_context
from shared.config import Config

# The context passed where the bridge sends no events (it is never read).
NO_EVENTS = RequestContext(id="", addr="", host="", method="", useragent="", base_url="")


class Resource:
    def __init__(self, registry: Registry, bridge: EventBridge, config: Config):
        self.registry = registry
        self.bridge = bridge
        self.config = config

    def context(self, req: falcon.Request) -> RequestContext:
        """What an event records about ``req``; nothing is read where no event is sent."""
        if not self.bridge.enabled:
            return NO_EVENTS
        return request_context(req, self.config.http.host, self.config.http.prefix)

    def path(self, path: str) -> str:
        """``path`` under ``http.prefix``."""
        prefix = self.config.http.prefix.strip("/")
        return f"/{prefix}{path}" if prefix else path

    def url(self, req: falcon.Request, path: str) -> str:
        http = self.config.http
        if http.relativeurls:
            return self.path(path)
        return f"{base_url(req, http.host, http.prefix)}{path}"


class BaseResource(Resource):
    """``GET /v2/``: the API version check (and the auth challenge, via the middleware)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json; charset=utf-8"
        resp.data = b"{}"

    on_head = on_get
