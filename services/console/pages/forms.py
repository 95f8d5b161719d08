"""Reading the console's HTML forms, and the notices shown after an action (a fixed text per
outcome: nothing a link could inject)."""

from __future__ import annotations

from typing import Any

import falcon

NOTICES = {
    "paused": "Paused: every notifier stops taking its events within a second; they wait in its queue.",
    "already-paused": "It was paused already.",
    "resumed": "Resumed: its waiting events flow again, in order.",
    "not-paused": "It was not paused.",
    "resent": "Sent again: {count} deliver{ies} on {its} way.",
    "replayed": "Replayed {count} dead letter{s}: back in {its} endpoint's queue.",
    "purged": "Purged {count} dead letter{s}, for good.",
}


def form(req: falcon.Request) -> dict[str, Any]:
    media = req.get_media(default_when_empty={})
    return media if isinstance(media, dict) else {}


def field(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


def field_list(values: dict[str, Any], name: str) -> list[str]:
    value = values.get(name)
    items = value if isinstance(value, list) else [value] if value else []
    return [str(v) for v in items if v]


def confirmed(values: dict[str, Any]) -> bool:
    """The operator saw the count and said go (``confirm=yes``; JSON ``true`` too)."""
    return field(values, "confirm").lower() in ("yes", "true")


def notice(req: falcon.Request) -> str | None:
    """The text for ``?done=<outcome>&count=N`` after an action's redirect."""
    text = NOTICES.get(req.get_param("done") or "")
    if text is None:
        return None
    try:
        count = max(0, int(req.get_param("count") or 0))
    except ValueError:
        count = 0
    one = count == 1
    return text.format(count=count, s="" if one else "s", ies="y" if one else "ies",
                       its="its" if one else "their")
