"""The time fields of the console's forms and API: ``since`` and ``until``.

A value is either a duration back from now (``30m``, ``2h``, ``168h``, as ``--since`` takes on
the command line) or a date and time in UTC (``2026-12-07T10:04``, ``2026-12-07 10:04:05``,
an explicit offset or ``Z`` honoured). Empty means no bound.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from shared.durations import parse_duration


class BadFilter(ValueError):
    """A form or query field the console cannot read (answered 400, naming the field)."""


def parse_time(value: str | None, field: str, now: float | None = None) -> float | None:
    """Epoch seconds, or None for an empty value. :class:`BadFilter` names the field."""
    text = (value or "").strip()
    if not text:
        return None
    now = time.time() if now is None else now
    if text[0].isdigit() and not any(c in text for c in "-:"):
        try:
            return now - parse_duration(text)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise BadFilter(f"{field}: expected a duration back from now (30m, 2h) or a UTC date "
                         f"and time (2026-12-07T10:04), got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_int(value: str | None, field: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadFilter(f"{field}: expected a number, got {text!r}") from None


def parse_choice(value: str | None, field: str, choices: tuple[str, ...]) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if text not in choices:
        raise BadFilter(f"{field}: one of {', '.join(choices)}, got {text!r}")
    return text
