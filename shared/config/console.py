"""The ``console`` section (ours): the web console's listener, its operators, and where it
reaches the registry's API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from shared.config.errors import ConfigError
from shared.config.section import Section

DEFAULT_CONSOLE_ADDR = ":5002"
_ADDR = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d+$")
_USER = re.compile(r"^[^\s:]+$")


@dataclass(frozen=True)
class ConsoleConfig:
    # None: no console in embedded mode; `registry console` then listens on the default.
    addr: str | None = None
    operators: tuple[str, ...] = ()
    # The registry's API as the console reaches it; None: http.host, else http.addr on loopback.
    registry: str | None = None
    registryca: str | None = None  # a CA bundle to verify the registry's certificate
    sessionttl: float = 8 * 3600.0
    workers: int = 1
    threads: int = 8

    @property
    def listen_addr(self) -> str:
        return self.addr or DEFAULT_CONSOLE_ADDR

    def is_operator(self, user: str | None) -> bool:
        return user is not None and user in self.operators


def parse_console(console: Section) -> ConsoleConfig:
    addr = console.str("addr")
    if addr is not None and not _ADDR.match(addr):
        raise ConfigError("console.addr", f"expected host:port or :port, got {addr!r}")
    operators = console.strings("operators")
    for i, name in enumerate(operators):
        if not _USER.match(name):
            raise ConfigError(f"console.operators.{i}", f"not a user name: {name!r}")
    registry = console.str("registry")
    if registry is not None:
        parsed = urlparse(registry)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError("console.registry",
                              f"expected an http(s) URL of the registry, got {registry!r}")
        registry = registry.rstrip("/")
    ttl = console.duration("sessionttl", ConsoleConfig.sessionttl)
    if ttl is None or ttl <= 0:
        raise ConfigError("console.sessionttl", "must be a positive duration")
    return ConsoleConfig(
        addr=addr,
        operators=operators,
        registry=registry,
        registryca=console.str("registryca"),
        sessionttl=ttl,
        workers=console.int("workers", 1, minimum=1) or 1,
        threads=console.int("threads", 8, minimum=1) or 8,
    )
