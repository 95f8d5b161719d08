"""Cross-cutting request handling: metrics, authentication, and the write policy
(read-only maintenance mode, deletes disabled)."""

from __future__ import annotations

import time
from typing import Any

import falcon
from requests.structures import CaseInsensitiveDict

from services.registry import metrics
from services.registry.domain.errors import RegistryError

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _route(req: falcon.Request) -> str:
    return getattr(req.context, "route", None) or "unknown"


class _CountingInput:
    """The WSGI input stream, counting the bytes the app reads: the request size of a chunked
    upload (no Content-Length) is only known this way."""

    def __init__(self, stream: Any):
        self._stream = stream
        self.count = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read() if size is None else self._stream.read(size)
        self.count += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = self._stream.readline() if size is None else self._stream.readline(size)
        self.count += len(data)
        return data

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


def _response_bytes(req: falcon.Request, resp: falcon.Response) -> int:
    """Body bytes the response sends. A blob GET's body is a file that gunicorn sends with
    sendfile, outside any Python code we could count in: its Content-Length is what goes out.
    Every other body here is ``resp.data`` (or ``resp.text``). HEAD sends no body whatever
    its Content-Length says."""
    if req.method == "HEAD":
        return 0
    if resp.data is not None:
        return len(resp.data)
    if resp.text is not None:
        return len(resp.text.encode())
    length = resp.headers.get("content-length")
    return int(length) if length and length.isdigit() else 0


class MetricsMiddleware:
    """The reference's ``registry_http_*`` metrics, labelled by route name."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        # Falcon's bounded_stream wraps env["wsgi.input"] and req.stream is the same object:
        # both must see the counting wrapper.
        counting = _CountingInput(req.env["wsgi.input"])
        req.env["wsgi.input"] = counting
        req.stream = counting
        req.context.body_in = counting

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict) -> None:
        req.context.in_flight = _route(req)
        metrics.http_in_flight(req.context.in_flight).inc()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        handler = _route(req)
        method = metrics.method_label(req.method)
        if getattr(req.context, "in_flight", None):
            metrics.http_in_flight(req.context.in_flight).dec()
        started = getattr(req.context, "started", None)
        if started is not None:
            metrics.http_duration(handler, method).observe(time.perf_counter() - started)
        code = resp.status_code if hasattr(resp, "status_code") else int(str(resp.status)[:3])
        metrics.http_requests(handler, method, str(code)).inc()
        body_in = getattr(req.context, "body_in", None)
        received = body_in.count if body_in is not None else 0
        if received or req.method in WRITE_METHODS:
            # Bytes the registry read from the body (a refused upload it never read is 0).
            metrics.http_request_bytes(handler).observe(received)
        metrics.http_response_bytes(handler).observe(_response_bytes(req, resp))


class RouteNameMiddleware:
    """Records the matched route's name where the other middleware can read it."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict) -> None:
        req.context.route = req.uri_template


class WritePolicyMiddleware:
    """``storage.maintenance.readonly``: every write is 405 UNSUPPORTED, reads still work.
    ``storage.delete.enabled: false``: deleting blobs and manifests is 405 UNSUPPORTED
    (cancelling an upload is still allowed, as in the reference)."""

    def __init__(self, readonly: bool, delete_enabled: bool):
        self.readonly = readonly
        self.delete_enabled = delete_enabled

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict) -> None:
        if self.readonly and req.method in WRITE_METHODS:
            raise RegistryError("UNSUPPORTED", "registry is in read-only mode", status=405)
        if (not self.delete_enabled and req.method == "DELETE"
                and req.uri_template in ("blob", "manifest")):
            raise RegistryError("UNSUPPORTED", "deletes are disabled", status=405)


def access_scope(route: str, method: str, params: dict) -> tuple[str | None, tuple[str, ...]]:
    """The repository and actions a request needs, as the reference's token scopes."""
    if route == "base":
        return None, ()
    if route == "catalog":
        return None, ("*",)
    if method in ("GET", "HEAD"):
        return params.get("name"), ("pull",)
    if method == "DELETE" and route in ("blob", "manifest"):
        return params.get("name"), ("delete",)
    return params.get("name"), ("pull", "push")


class AuthMiddleware:
    """Asks the configured authenticator; its principal becomes the event actor."""

    def __init__(self, authenticator: Any, scope_type: Any, error_type: type[Exception]):
        self.authenticator = authenticator
        self.scope_type = scope_type
        self.error_type = error_type

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict) -> None:
        repository, actions = access_scope(req.uri_template, req.method, params)
        also: tuple[Any, ...] = ()
        source = req.get_param("from")
        if req.uri_template == "blob_upload" and req.method == "POST" and source:
            # A cross-repository mount reads the source: the reference requires pull there.
            also = (self.scope_type(repository=source, actions=("pull",)),)
        scope = self.scope_type(repository=repository, actions=actions, also=also)
        headers = CaseInsensitiveDict(req.headers)
        try:
            req.context.principal = self.authenticator.authenticate(headers, scope)
        except self.error_type as exc:
            code = getattr(exc, "code", "UNAUTHORIZED")
            challenge = getattr(exc, "challenge", None)
            raise RegistryError(code, getattr(exc, "message", None),
                                detail=getattr(exc, "detail", None),
                                status=getattr(exc, "status", 401),
                                headers={"WWW-Authenticate": challenge} if challenge else None,
                                ) from None
