"""The ``log`` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.config.errors import ConfigError
from shared.config.section import Section


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    formatter: str = "text"
    accesslog_disabled: bool = False
    fields: dict[str, str] = field(default_factory=dict)



def parse_log(root: Section) -> LogConfig:
    log = root.section("log")
    level = (log.str("level") or root.str("loglevel") or "info").lower()
    if level not in ("debug", "info", "warn", "warning", "error", "fatal", "panic"):
        raise ConfigError("log.level", f"unknown level {level!r}")
    formatter = (log.str("formatter") or "text").lower()
    if formatter not in ("text", "json", "logstash"):
        raise ConfigError("log.formatter", f"unknown formatter {formatter!r}")
    fields = log.value("fields") or {}
    if not isinstance(fields, Mapping):
        raise ConfigError("log.fields", "expected a mapping")
    return LogConfig(
        level=level,
        formatter=formatter,
        accesslog_disabled=log.section("accesslog").bool("disabled"),
        fields={str(k): str(v) for k, v in fields.items()},
    )
