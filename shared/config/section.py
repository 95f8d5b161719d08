"""Reading one mapping of the config file: typed values, and a record of which keys were read
(the rest are reported as ignored)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.config.errors import ConfigError
from shared.config.secrets import expand_secret, is_secret_reference
from shared.durations import parse_duration


class Section:
    """A mapping being read; remembers which keys were read so the rest can be reported."""

    def __init__(self, raw: Any, path: str, seen: set[str]):
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected a mapping, got {type(raw).__name__}")
        self.raw = {str(k).lower(): v for k, v in raw.items()}
        self.path = path
        self.seen = seen

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.raw

    def value(self, name: str, default: Any = None) -> Any:
        if name not in self.raw:
            return default
        self.seen.add(self.key(name))
        return self.raw[name]

    def section(self, name: str) -> Section:
        # Reading a section marks nothing: its unread leaves are reported as ignored.
        return Section(self.raw.get(name), self.key(name), self.seen)

    def str(self, name: str, default: str | None = None, required: bool = False) -> str | None:
        v = self.value(name)
        if v is None:
            if required:
                raise ConfigError(self.key(name), "is required")
            return default
        if isinstance(v, bool | dict | list):
            raise ConfigError(self.key(name), f"expected a string, got {v!r}")
        return str(v)

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.value(name)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise ConfigError(self.key(name), f"expected true or false, got {v!r}")

    def int(self, name: str, default: int | None = None, minimum: int | None = None) -> int | None:
        v = self.value(name)
        if v is None:
            return default
        try:
            if isinstance(v, bool):
                raise ValueError
            n = int(v)
        except (TypeError, ValueError):
            raise ConfigError(self.key(name), f"expected an integer, got {v!r}") from None
        if minimum is not None and n < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}, got {n}")
        return n

    def duration(self, name: str, default: float | None = None) -> float | None:
        v = self.value(name)
        if v is None:
            return default
        try:
            return parse_duration(v)
        except ValueError as exc:
            raise ConfigError(self.key(name), str(exc)) from None

    def strings(self, name: str) -> tuple[str, ...]:
        v = self.value(name)
        if v is None:
            return ()
        if isinstance(v, str):
            return (v,)
        if not isinstance(v, list) or not all(isinstance(i, str | int | float) for i in v):
            raise ConfigError(self.key(name), f"expected a list of strings, got {v!r}")
        return tuple(str(i) for i in v)

    def headers(self, name: str, secrets: bool = False) -> dict[str, tuple[str, ...]]:
        """A mapping of header name to values. ``secrets``: values may be ``${env:...}`` or
        ``${file:...}`` (webhook headers). Elsewhere such a value is refused, not expanded:
        ``http.headers`` go out on every response, where a secret would be published."""
        raw = self.value(name)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise ConfigError(self.key(name), "expected a mapping of header name to a list of values")
        out: dict[str, tuple[str, ...]] = {}
        for header, values in raw.items():
            key = f"{self.key(name)}.{header}"
            if isinstance(values, str | int | float) and not isinstance(values, bool):
                values = [values]  # the reference wants a list; a lone value is what was meant
            if not isinstance(values, list):
                raise ConfigError(key, f"expected a list of values, got {values!r}")
            if not _HEADER_NAME.match(str(header)):
                raise ConfigError(key, "not a valid HTTP header name")
            if not secrets and any(is_secret_reference(str(v)) for v in values):
                raise ConfigError(key, "${env:...} and ${file:...} are expanded only in webhook "
                                  "headers and signing secrets; these headers are sent to every "
                                  "client")
            expanded = tuple(expand_secret(str(v), key) for v in values)
            if any("\r" in v or "\n" in v for v in expanded):
                # Said without the value: it may be a secret.
                raise ConfigError(key, "a header value must not contain a line break")
            if not all(_sendable(v) for v in expanded):
                raise ConfigError(key, "a header value must be Latin-1 text (HTTP sends bytes)")
            out[str(header)] = expanded
        return out


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _sendable(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
