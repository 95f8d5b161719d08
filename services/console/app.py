"""The console as a WSGI app: middleware, the route table, error pages."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import falcon

from services.console.access.guard import Guard, is_api
from services.console.access.session import COOKIE, SessionCodec
from services.console.api.encoding import send_json
from services.console.api.repositories import RepositoriesApi, RepositoryApi, TagsApi
from services.console.api.session import HealthApi, SessionApi
from services.console.history import History, build_history
from services.console.inventory import ContentCache
from services.console.pages.history import HistoryPage
from services.console.pages.login import LoginPage, LogoutAction
from services.console.pages.repositories import RepositoriesPage, RepositoryPage, TagDeleteAction
from services.console.registry import (
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    Unauthorized,
    registry_base_url,
)
from services.console.views import Views, templates
from shared.config import Config, ConfigError
from shared.logfmt import kv

log = logging.getLogger("console.http")

STATIC = Path(__file__).parent / "static"

# Nothing is loaded from elsewhere: scripts, styles and images come from /static only.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def auth_mode(config: Config) -> str:
    if config.auth.htpasswd:
        return "basic"
    if config.auth.token:
        return "bearer"
    return "none"


def console_secret(config: Config) -> str:
    """``http.secret``: it signs sessions, and the registry knows the console's reads by it."""
    if not config.http.secret:
        raise ConfigError("http.secret", "the console needs it (sessions are signed with it, "
                          "and the registry recognises the console's reads by it); set the "
                          "same value for the registry and the console")
    return config.http.secret


class RequestLog:
    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.monotonic()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and req.path.startswith("/static/"):
                continue
            resp.set_header(name, value)
        session = getattr(req.context, "session", None)
        log.info(kv("console request", method=req.method, path=req.path, status=resp.status_code,
                    duration_ms=round((time.monotonic() - req.context.started) * 1000, 1),
                    user=session.user if session else None))


def _error(req: falcon.Request, resp: falcon.Response, views: Views, status: str, code: str,
           message: str) -> None:
    if is_api(req):
        send_json(resp, {"errors": [{"code": code, "message": message}]}, status)
    else:
        views.render(req, resp, "error.html", status=status, code=code, message=message)


def _handlers(app: falcon.App, views: Views) -> None:
    def unavailable(req: falcon.Request, resp: falcon.Response, ex: Exception,
                    params: dict) -> None:
        _error(req, resp, views, falcon.HTTP_502, "REGISTRY_UNAVAILABLE",
               "The registry does not answer.")

    def unauthorized(req: falcon.Request, resp: falcon.Response, ex: Exception,
                     params: dict) -> None:
        # The registry no longer takes the session's credentials (password changed, user gone).
        if is_api(req):
            _error(req, resp, views, falcon.HTTP_401, "UNAUTHORIZED",
                   "the registry refused your credentials; sign in again")
            return
        resp.unset_cookie(COOKIE, path="/")
        resp.status = falcon.HTTP_303
        resp.location = "/login"

    def refused(req: falcon.Request, resp: falcon.Response, ex: RegistryError,
                params: dict) -> None:
        status = {403: falcon.HTTP_403, 404: falcon.HTTP_404,
                  405: falcon.HTTP_405}.get(ex.status, falcon.HTTP_502)
        _error(req, resp, views, status, ex.code or "REGISTRY_ERROR",
               f"The registry answered {ex.status}: {ex.message or ex.code}")

    def http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError,
                   params: dict) -> None:
        _error(req, resp, views, ex.status, ex.title or "ERROR", ex.description or ex.title)

    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(RegistryError, refused)
    app.add_error_handler(Unauthorized, unauthorized)
    app.add_error_handler(RegistryUnavailable, unavailable)


def add_routes(app: falcon.App, views: Views, anonymous: bool) -> None:
    """Every path of the console. The history pages are phase 1 placeholders (history.py)."""
    app.add_route("/login", LoginPage(views, anonymous))
    app.add_route("/logout", LogoutAction(views))
    app.add_route("/repositories", RepositoriesPage(views))
    app.add_route("/repositories/{name:path}", RepositoryPage(views))
    app.add_route("/tags/delete", TagDeleteAction(views))
    app.add_route("/", HistoryPage(views, "overview.html", "Overview"))
    app.add_route("/events", HistoryPage(views, "events.html", "Events"))
    app.add_route("/endpoints", HistoryPage(views, "endpoints.html", "Endpoints"))
    app.add_route("/endpoints/{name}", HistoryPage(views, "endpoint.html", "Endpoint"))
    app.add_route("/deliveries/{event_id}", HistoryPage(views, "delivery.html", "Delivery"))
    app.add_route("/deadletters", HistoryPage(views, "deadletters.html", "Dead letters"))
    app.add_route("/health", HealthApi())
    app.add_route("/api/session", SessionApi())
    app.add_route("/api/repositories", RepositoriesApi(views))
    app.add_route("/api/repositories/{name:path}", RepositoryApi(views))
    app.add_route("/api/tags", TagsApi(views))
    app.add_static_route("/static", str(STATIC))


def create_app(config: Config, history: History | None = None) -> falcon.App:
    secret = console_secret(config)
    mode = auth_mode(config)
    verify: bool | str = config.console.registryca or True
    client = RegistryClient(registry_base_url(config), mode, secret, verify=verify)
    codec = SessionCodec(secret, config.console.sessionttl)
    views = Views(config=config, client=client, cache=ContentCache(), codec=codec,
                  history=history if history is not None else build_history(config),
                  env=templates())
    anonymous = mode == "none"
    app = falcon.App(middleware=[RequestLog(), Guard(codec, config.console, anonymous)])
    app.req_options.strip_url_path_trailing_slash = True
    _handlers(app, views)
    add_routes(app, views, anonymous)
    return app
