"""Every error leaves as the spec's JSON body: ``{"errors":[{"code","message","detail"}]}``."""

from __future__ import annotations

import json
import logging
from typing import Any

import falcon

from services.registry.domain.errors import RegistryError
from shared.logfmt import kv

log = logging.getLogger("registry.http")

_FALCON_CODES = {
    400: "UNSUPPORTED", 401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND",
    405: "UNSUPPORTED", 411: "SIZE_INVALID", 413: "SIZE_INVALID", 416: "RANGE_INVALID",
    429: "TOO_MANY_REQUESTS",
}


def _write(resp: falcon.Response, status: int, errors: list[dict[str, Any]],
           headers: dict[str, str] | None = None) -> None:
    resp.status = status
    resp.content_type = "application/json; charset=utf-8"
    resp.data = (json.dumps({"errors": errors}) + "\n").encode()
    resp.stream = None
    for name, value in (headers or {}).items():
        resp.set_header(name, value)


def handle_registry_error(req: falcon.Request, resp: falcon.Response, ex: RegistryError,
                          params: dict) -> None:
    _write(resp, ex.status, [ex.to_dict()], ex.headers)


def handle_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError,
                      params: dict) -> None:
    status = ex.status_code
    code = _FALCON_CODES.get(status, "UNSUPPORTED" if status < 500 else "UNKNOWN")
    body: dict[str, Any] = {"code": code, "message": ex.title or code.lower()}
    if ex.description:
        body["detail"] = ex.description
    _write(resp, status, [body], dict(ex.headers or {}))


def handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception,
                      params: dict) -> None:
    if isinstance(ex, falcon.HTTPError):
        handle_http_error(req, resp, ex, params)
        return
    # The exception's text stays here: an OSError names files under the storage root.
    log.exception(kv("request failed", method=req.method, path=req.path, error=ex))
    _write(resp, 500, [{"code": "UNKNOWN", "message": "unknown error"}])


def install(app: falcon.App) -> None:
    # Falcon picks the most specific handler for an exception's class.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(RegistryError, handle_registry_error)
