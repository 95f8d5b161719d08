"""Request bodies per endpoint ``format``: the bare event, the reference's envelope, or a
structured CloudEvent.

One implementation for the notifier (what it POSTs) and the web console (the body shown in each
format, "copy as curl"): what the console shows is what a receiver gets."""

from __future__ import annotations

import json
from typing import Any

from shared.events import ENVELOPE_MEDIA_TYPE

JSON = "application/json"
CLOUDEVENTS = "application/cloudevents+json"
CLOUDEVENT_TYPE_PREFIX = "io.distribution.registry."


def cloudevent(event: dict[str, Any], routing_key: str) -> dict[str, Any]:
    source = event.get("source") or {}
    return {
        "specversion": "1.0",
        "id": event.get("id"),
        "source": f"//{source.get('addr') or 'registry'}",
        "type": CLOUDEVENT_TYPE_PREFIX + routing_key,
        "time": event.get("timestamp"),
        "datacontenttype": JSON,
        "data": event,
    }


def render(fmt: str, event: dict[str, Any], routing_key: str) -> tuple[bytes, str]:
    """``(body, content type)`` for one event."""
    if fmt == "envelope":
        doc: Any = {"events": [event]}
        content_type = ENVELOPE_MEDIA_TYPE
    elif fmt == "cloudevents":
        doc = cloudevent(event, routing_key)
        content_type = CLOUDEVENTS
    else:
        doc = event
        content_type = JSON
    return json.dumps(doc, separators=(",", ":")).encode(), content_type
