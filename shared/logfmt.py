"""Structured, one-line logs: ``<time> <LEVEL> <message> key=value key=value``.

Call sites pass fields with :func:`fields`; values that contain spaces or quotes are quoted.
Secrets never reach here: callers pass header *names*, never values.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from shared.config import LogConfig

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL,
           "panic": logging.CRITICAL}


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text)
    return text


def kv(message: str, **values: Any) -> str:
    """``kv("notification sent", endpoint="a")`` -> ``notification sent endpoint=a``."""
    parts = [message]
    parts.extend(f"{k}={_quote(v)}" for k, v in values.items() if v is not None)
    return " ".join(parts)


class KeyValueFormatter(logging.Formatter):
    def __init__(self, static_fields: dict[str, str] | None = None):
        super().__init__()
        self.static = "".join(f" {k}={_quote(v)}" for k, v in (static_fields or {}).items())

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {record.getMessage()}{self.static}"
        if record.exc_info:
            line += " error=" + _quote(self.formatException(record.exc_info).splitlines()[-1])
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, static_fields: dict[str, str] | None = None):
        super().__init__()
        self.static = static_fields or {}

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
               "level": record.levelname.lower(), "msg": record.getMessage(), **self.static}
        return json.dumps(doc)


def formatter_for(config: LogConfig) -> logging.Formatter:
    if config.formatter in ("json", "logstash"):
        return JsonFormatter(config.fields)
    return KeyValueFormatter(config.fields)


def setup_logging(config: LogConfig | None = None) -> None:
    config = config or LogConfig()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(config))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(config.level, logging.INFO))
    # Libraries are chatty at INFO; their warnings still come through.
    for name in ("kombu", "amqp", "urllib3", "botocore", "boto3", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
