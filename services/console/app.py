"""The console as a WSGI app: middleware, the route table, error pages."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import falcon

from services.console.access.guard import Guard, is_api
from services.console.access.login_csrf import LoginTokens
from services.console.access.session import COOKIE, SessionCodec
from services.console.api import history as history_api
from services.console.api.encoding import send_json
from services.console.api.repositories import RepositoriesApi, RepositoryApi, TagsApi
from services.console.api.session import HealthApi, SessionApi
from services.console.history import History, HistoryUnavailable, build_history
from services.console.history.times import BadFilter
from services.console.inventory import ContentCache
from services.console.inventory.store import TimedCache
from services.console.pages.deadletters import DeadLetterAction, DeadLettersPage
from services.console.pages.deliveries import DeliveryPage, DeliveryResend
from services.console.pages.endpoints import EndpointAction, EndpointPage, EndpointsPage
from services.console.pages.events import EventsPage
from services.console.pages.login import LoginPage, LogoutAction
from services.console.pages.overview import OverviewPage
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
from shared.operations.errors import OperationError

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
        duration_ms = round((time.monotonic() - req.context.started) * 1000, 1)
        # The time spent here, for browsers' developer tools and the benchmark.
        resp.set_header("Server-Timing", f"app;dur={duration_ms}")
        log.info(kv("console request", method=req.method, path=req.path, status=resp.status_code,
                    duration_ms=duration_ms, user=session.user if session else None))


def _error(req: falcon.Request, resp: falcon.Response, views: Views, status: str, code: str,
           message: str, template: str = "error.html") -> None:
    if is_api(req):
        send_json(resp, {"errors": [{"code": code, "message": message}]}, status)
    else:
        views.render(req, resp, template, status=status, code=code, message=message)


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

    def history_unavailable(req: falcon.Request, resp: falcon.Response, ex: HistoryUnavailable,
                            params: dict) -> None:
        # Disabled, or its database cannot be reached: the page says which (no password).
        log.warning(kv("delivery history unavailable", path=req.path, error=str(ex)[:300]))
        _error(req, resp, views, falcon.HTTP_503, "HISTORY_UNAVAILABLE", str(ex),
               "history_unavailable.html")

    def refused_operation(req: falcon.Request, resp: falcon.Response, ex: OperationError,
                          params: dict) -> None:
        # status 2: cannot be done as asked (e.g. a disabled endpoint); 1: the broker is down.
        status = falcon.HTTP_409 if ex.status == 2 else falcon.HTTP_503
        _error(req, resp, views, status, "NOT_DONE", str(ex))

    def bad_filter(req: falcon.Request, resp: falcon.Response, ex: BadFilter,
                   params: dict) -> None:
        _error(req, resp, views, falcon.HTTP_400, "BAD_REQUEST", str(ex))

    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(HistoryUnavailable, history_unavailable)
    app.add_error_handler(OperationError, refused_operation)
    app.add_error_handler(BadFilter, bad_filter)
    app.add_error_handler(RegistryError, refused)
    app.add_error_handler(Unauthorized, unauthorized)
    app.add_error_handler(RegistryUnavailable, unavailable)


def add_routes(app: falcon.App, views: Views, anonymous: bool,
               login_tokens: LoginTokens) -> None:
    """Every path of the console: the pages, their actions (POST, operators), ``/api``."""
    app.add_route("/login", LoginPage(views, anonymous, login_tokens))
    app.add_route("/logout", LogoutAction(views))
    app.add_route("/", OverviewPage(views))
    app.add_route("/repositories", RepositoriesPage(views))
    app.add_route("/repositories/{name:path}", RepositoryPage(views))
    app.add_route("/tags/delete", TagDeleteAction(views))
    app.add_route("/events", EventsPage(views))
    app.add_route("/endpoints", EndpointsPage(views))
    app.add_route("/endpoints/{name}", EndpointPage(views))
    app.add_route("/endpoints/{name}/{action}", EndpointAction(views))
    app.add_route("/deliveries/{event_id}", DeliveryPage(views))
    app.add_route("/deliveries/{event_id}/resend", DeliveryResend(views))
    app.add_route("/deadletters", DeadLettersPage(views))
    app.add_route("/deadletters/{action}", DeadLetterAction(views))
    app.add_route("/health", HealthApi())
    app.add_route("/api/session", SessionApi())
    app.add_route("/api/repositories", RepositoriesApi(views))
    app.add_route("/api/repositories/{name:path}", RepositoryApi(views))
    app.add_route("/api/tags", TagsApi(views))
    app.add_route("/api/overview", history_api.OverviewApi(views))
    app.add_route("/api/events", history_api.EventsApi(views))
    app.add_route("/api/deliveries", history_api.DeliveriesApi(views))
    app.add_route("/api/deliveries/{event_id}", history_api.DeliveryApi(views))
    app.add_route("/api/deliveries/{event_id}/resend", history_api.DeliveryResendApi(views))
    app.add_route("/api/endpoints", history_api.EndpointsApi(views))
    app.add_route("/api/endpoints/{name}", history_api.EndpointApi(views))
    app.add_route("/api/endpoints/{name}/{action}", history_api.EndpointActionApi(views))
    app.add_route("/api/deadletters", history_api.DeadLettersApi(views))
    app.add_route("/api/deadletters/{action}", history_api.DeadLetterActionApi(views))
    app.add_static_route("/static", str(STATIC))


def create_app(config: Config, history: History | None = None) -> falcon.App:
    secret = console_secret(config)
    mode = auth_mode(config)
    verify: bool | str = config.console.registryca or True
    client = RegistryClient(registry_base_url(config), mode, secret, verify=verify)
    codec = SessionCodec(secret, config.console.sessionttl)
    views = Views(config=config, client=client, cache=ContentCache(), summaries=TimedCache(),
                  codec=codec, history=history if history is not None else build_history(config),
                  env=templates())
    anonymous = mode == "none"
    login_tokens = LoginTokens(secret, config.console.sessionttl)
    app = falcon.App(middleware=[RequestLog(),
                                 Guard(codec, config.console, anonymous, login_tokens)])
    app.req_options.strip_url_path_trailing_slash = True
    _handlers(app, views)
    add_routes(app, views, anonymous, login_tokens)
    return app
