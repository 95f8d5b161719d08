"""The ``http`` section: listen addresses, TLS, the debug server, our worker settings and
our client timeouts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from shared.config.errors import ConfigError
from shared.config.section import Section


@dataclass(frozen=True)
class HttpTimeoutConfig:
    """``http.timeout`` (ours; the reference has no such keys): how long a client may take to
    send a request's line and headers (``header``, from when its connection is taken up), and
    how long it may leave a request body without sending more (``body``, so a slow upload
    that keeps moving is never cut)."""

    header: float = 30.0
    body: float = 60.0


@dataclass(frozen=True)
class HttpConfig:
    addr: str = ":5000"
    host: str | None = None  # external base URL, used in Location headers and event urls
    prefix: str = "/"
    secret: str | None = None
    relativeurls: bool = False
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tls_certificate: str | None = None
    tls_key: str | None = None
    debug_addr: str | None = None
    prometheus_enabled: bool = False
    prometheus_path: str = "/metrics"
    workers: int = 2
    threads: int = 8
    draintimeout: float = 0.0
    timeout: HttpTimeoutConfig = field(default_factory=HttpTimeoutConfig)


# Used with fullmatch: "$" would also match before a final newline (":5000\n").
_ADDR = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d+")


def is_listen_address(addr: str) -> bool:
    """``host:port``, ``:port`` or ``[v6]:port``."""
    return _ADDR.fullmatch(addr) is not None


def parse_http(http: Section) -> HttpConfig:
    addr = http.str("addr", ":5000") or ":5000"
    if not is_listen_address(addr):
        raise ConfigError("http.addr", f"expected host:port or :port, got {addr!r}")
    host = http.str("host")
    if host and not urlparse(host).scheme:
        raise ConfigError("http.host", f"expected an absolute URL, got {host!r}")
    tls = http.section("tls")
    debug = http.section("debug")
    prometheus = debug.section("prometheus")
    debug_addr = debug.str("addr")
    if debug_addr and not is_listen_address(debug_addr):
        raise ConfigError("http.debug.addr", f"expected host:port or :port, got {debug_addr!r}")
    return HttpConfig(
        addr=addr,
        host=host.rstrip("/") if host else None,
        prefix=http.str("prefix", "/") or "/",
        secret=http.str("secret"),
        relativeurls=http.bool("relativeurls"),
        headers=http.headers("headers"),
        tls_certificate=tls.str("certificate"),
        tls_key=tls.str("key"),
        debug_addr=debug_addr,
        prometheus_enabled=prometheus.bool("enabled"),
        prometheus_path=prometheus.str("path", "/metrics") or "/metrics",
        workers=http.int("workers", 2, minimum=1) or 2,
        threads=http.int("threads", 8, minimum=1) or 8,
        draintimeout=http.duration("draintimeout", 0.0) or 0.0,
        timeout=parse_http_timeout(http.section("timeout")),
    )


def parse_http_timeout(t: Section) -> HttpTimeoutConfig:
    values = {}
    for name in ("header", "body"):
        seconds = t.duration(name, getattr(HttpTimeoutConfig, name))
        if not seconds or seconds <= 0:
            raise ConfigError(t.key(name), "must be a positive duration (e.g. 30s)")
        values[name] = seconds
    return HttpTimeoutConfig(**values)
