"""Reading requests: streamed bodies, Content-Range, the event context."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import falcon

from services.registry.domain.errors import RegistryError
from services.registry.events.bridge import RequestContext
from shared.console_reads import CONSOLE_READ_HEADER

CHUNK_SIZE = 1 << 20
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(\d+|\*))?$")


def body_chunks(req: falcon.Request, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The request body, ~1 MiB at a time, never whole. Without Content-Length (chunked
    transfer encoding) the server's input stream ends at the body's end."""
    stream = req.bounded_stream if req.content_length is not None else req.stream
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        yield chunk


def read_limited(req: falcon.Request, limit: int) -> bytes:
    """The whole body when it is at most ``limit`` bytes; a larger one is refused with 413
    without being read (by Content-Length) or as soon as it passes the limit."""
    too_large = RegistryError("MANIFEST_TOO_LARGE", status=413, detail={"limit": limit})
    if req.content_length is not None and req.content_length > limit:
        raise too_large
    out = bytearray()
    for chunk in body_chunks(req, 65536):
        out += chunk
        if len(out) > limit:
            raise too_large
    return bytes(out)


def content_range(req: falcon.Request) -> tuple[int | None, int | None]:
    value = req.get_header("Content-Range")
    if not value:
        return None, None
    match = _CONTENT_RANGE.match(value.strip())
    if not match:
        raise RegistryError("RANGE_INVALID", "malformed Content-Range", status=416,
                            detail={"Content-Range": value})
    return int(match.group(1)), int(match.group(2))


def base_url(req: falcon.Request, configured_host: str | None, prefix: str = "/") -> str:
    """Where the API's ``/v2/`` lives for this client: ``http.host`` (or the Host the client
    used) plus ``http.prefix``."""
    if configured_host:
        root = configured_host.rstrip("/")
    else:
        root = f"{req.scheme}://{req.get_header('Host') or req.host}"
    return root + ("/" + prefix.strip("/") if prefix.strip("/") else "")


def request_context(req: falcon.Request, configured_host: str | None,
                    prefix: str = "/") -> RequestContext:
    port = req.env.get("REMOTE_PORT")
    addr = req.remote_addr or ""
    if port:
        addr = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
    principal = getattr(req.context, "principal", None)
    return RequestContext(
        id=str(uuid.uuid4()),
        addr=addr,
        host=req.get_header("Host") or "",
        method=req.method,
        useragent=req.user_agent or "",
        base_url=base_url(req, configured_host, prefix),
        actor=getattr(principal, "name", None) if principal is not None else None,
        console_read=req.get_header(CONSOLE_READ_HEADER),
    )
