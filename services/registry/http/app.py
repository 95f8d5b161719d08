"""The Falcon application: routes, middleware and error handling, wired from the config."""

from __future__ import annotations

import logging
from typing import Any

import falcon

from services.registry.cache import BlobDescriptorCache, build_cache
from services.registry.domain.manifest_urls import URLPolicy
from services.registry.domain.registry import Registry
from services.registry.events import build_sink
from services.registry.events.bridge import EventBridge
from services.registry.http import errors
from services.registry.http.middleware import (
    AuthMiddleware,
    MetricsMiddleware,
    RouteNameMiddleware,
    WritePolicyMiddleware,
)
from services.registry.http.resources.base import BaseResource
from services.registry.http.resources.blobs import BlobResource
from services.registry.http.resources.listing import (
    CatalogResource,
    ReferrersResource,
    TagsResource,
)
from services.registry.http.resources.manifests import ManifestResource
from services.registry.http.resources.uploads import UploadResource, UploadStartResource
from services.registry.http.router import RegistryRouter
from services.registry.storage import StorageDriver, build_driver
from shared.config import Config
from shared.events import EventSink

log = logging.getLogger("registry.http")

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


class ResponseHeadersMiddleware:
    """The API version on every response, and ``http.headers`` from the config."""

    def __init__(self, headers: dict[str, tuple[str, ...]]):
        self.headers = [(k, ", ".join(v)) for k, v in headers.items()]

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        resp.set_header(*API_VERSION_HEADER)
        for name, value in self.headers:
            resp.set_header(name, value)


class RegistryApp(falcon.App):
    """A Falcon app that also exposes its domain (``app.registry``) for health checks."""

    registry: Registry


def default_cache(config: Config) -> BlobDescriptorCache | None:
    return build_cache(config) if config.storage.cache.blobdescriptor else None


def _auth_middleware(config: Config) -> AuthMiddleware | None:
    if not (config.auth.htpasswd or config.auth.token):
        return None
    from services.registry.auth import AccessScope, AuthError, build_authenticator

    authenticator = build_authenticator(config)
    if authenticator is None:
        return None
    return AuthMiddleware(authenticator, AccessScope, AuthError)


def create_app(config: Config, sink: EventSink | None = None,
               driver: StorageDriver | None = None,
               cache: BlobDescriptorCache | None = None) -> RegistryApp:
    """The registry as a WSGI app. ``sink``, ``driver`` and ``cache`` default to what the
    config says; tests pass their own."""
    driver = driver if driver is not None else build_driver(config)
    cache = cache if cache is not None else default_cache(config)
    sink = sink if sink is not None else build_sink(config)
    registry = Registry(driver, cache, URLPolicy.from_config(config.validation))
    bridge = EventBridge.from_config(config, sink)

    middleware: list[Any] = [
        ResponseHeadersMiddleware(config.http.headers),
        RouteNameMiddleware(),
        MetricsMiddleware(),
    ]
    auth = _auth_middleware(config)
    if auth is not None:
        middleware.append(auth)
    middleware.append(WritePolicyMiddleware(config.storage.readonly, config.storage.delete_enabled))

    app = RegistryApp(middleware=middleware, router=RegistryRouter(config.http.prefix))
    app.req_options.strip_url_path_trailing_slash = False
    app.resp_options.secure_cookies_by_default = False
    errors.install(app)
    args = (registry, bridge, config)
    app.add_route("/base", BaseResource(*args))
    app.add_route("/catalog", CatalogResource(*args))
    app.add_route("/tags", TagsResource(*args))
    app.add_route("/manifest", ManifestResource(*args))
    app.add_route("/blob_upload_chunk", UploadResource(*args))
    app.add_route("/blob_upload", UploadStartResource(*args))
    app.add_route("/blob", BlobResource(*args))
    app.add_route("/referrers", ReferrersResource(*args))
    app.registry = registry
    return app
