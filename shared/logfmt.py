"""Structured, one-line logs: ``<time> <LEVEL> <message> key=value key=value``.

Call sites pass fields with :func:`kv`; values that contain spaces, quotes, ``=`` or any control
character are quoted and escaped (JSON string syntax), so a value taken from a request (a path
with ``%0A``, a User-Agent) can neither start a forged line nor add a forged field. The
formatters escape control characters left in a message given whole (gunicorn's own lines).
Secrets never reach here: callers pass header *names*, never values.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from shared.config import LogConfig

# C0 and C1 controls (NEL \x85 among them), DEL, and the Unicode line and paragraph separators:
# each ends a line for some log reader or drives a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEEDS_QUOTES = re.compile(r'[\s"=\x00-\x1f\x7f-\x9f\u2028\u2029]')
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\u001b``)."""
    return _CONTROL.sub(_escape_control, text)


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL,
           "panic": logging.CRITICAL}


def quote(value: Any) -> str:
    """One logged value: as it is when that is safe, else a JSON string (every control
    character escaped, non-ASCII as ``\\uXXXX``)."""
    text = str(value)
    if text == "" or _NEEDS_QUOTES.search(text):
        return escape_controls(json.dumps(text))  # json.dumps leaves DEL as it is
    return text


def kv(message: str, **values: Any) -> str:
    """``kv("notification sent", endpoint="a")`` -> ``notification sent endpoint=a``."""
    parts = [message]
    parts.extend(f"{k}={quote(v)}" for k, v in values.items() if v is not None)
    return " ".join(parts)


class KeyValueFormatter(logging.Formatter):
    def __init__(self, static_fields: dict[str, str] | None = None):
        super().__init__()
        self.static = "".join(f" {k}={quote(v)}" for k, v in (static_fields or {}).items())
        self._second: tuple[int, str] = (-1, "")  # the last second formatted, reused

    def line(self, created: float, level: str, message: str) -> str:
        """One line for ``message`` at ``created`` (a ``time.time()``): what :meth:`format`
        writes, for a caller with no log record (the access log's fast path)."""
        second = int(created)
        cached = self._second
        if cached[0] != second:  # strftime once a second, not once a line
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                           time.gmtime(second)))
        millis = int((created - second) * 1000)
        return f"{cached[1]}.{millis:03d}Z {level} {escape_controls(message)}{self.static}"

    def format(self, record: logging.LogRecord) -> str:
        line = self.line(record.created, record.levelname, record.getMessage())
        if record.exc_info:
            line += " error=" + quote(self.formatException(record.exc_info).splitlines()[-1])
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, static_fields: dict[str, str] | None = None):
        super().__init__()
        self.static = static_fields or {}

    def line(self, created: float, level: str, message: str) -> str:
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
               "level": level.lower(), "msg": message, **self.static}
        return json.dumps(doc)

    def format(self, record: logging.LogRecord) -> str:
        return self.line(record.created, record.levelname, record.getMessage())


def formatter_for(config: LogConfig) -> KeyValueFormatter | JsonFormatter:
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
    # Our formatters show no caller, thread or process: skip collecting them for each record
    # (the logging HOWTO's "Optimization"; a quarter of an access line's cost, ~2.5 us).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Libraries are chatty at INFO; their warnings still come through.
    for name in ("kombu", "amqp", "urllib3", "botocore", "boto3", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
