"""An event's request as an endpoint gets it: the body in each format (the notifier's own
formatting, :mod:`shared.event_formats`), and the request as a ``curl`` command to copy, with
secrets masked: no credentials in the URL, ``***`` for configured headers and signatures."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from shared.config import EndpointConfig
from shared.config.notifications import EVENT_FORMATS
from shared.event_formats import render
from shared.history.records import MASK, mask_headers
from shared.operations.endpoints import url_without_credentials


@dataclass(frozen=True)
class Body:
    format: str  # event | envelope | cloudevents
    content_type: str
    text: str  # indented JSON, for reading


def bodies(event: dict[str, Any], routing_key: str) -> list[Body]:
    """The event's body in every format an endpoint may use."""
    out = []
    for fmt in EVENT_FORMATS:
        raw, content_type = render(fmt, event, routing_key)
        out.append(Body(fmt, content_type, json.dumps(json.loads(raw), indent=2)))
    return out


def expected_headers(endpoint: EndpointConfig, content_type: str) -> dict[str, str]:
    """The headers of a POST not made yet, masked as the history masks those it made (the
    notifier's own defaults, like its User-Agent, show once an attempt is recorded)."""
    headers = {"Content-Type": content_type}
    headers.update({name: ", ".join(values) for name, values in endpoint.headers.items()})
    if endpoint.signing_secrets:
        headers["webhook-signature"] = MASK
    return mask_headers(headers, endpoint.headers)


def curl_command(endpoint: EndpointConfig, event: dict[str, Any], routing_key: str,
                 sent_headers: dict[str, str] | None) -> str:
    """``curl`` POSTing what the endpoint got (``sent_headers``: the latest attempt's, already
    masked) or would get. Masked values stay ``***``: fill them in to send it."""
    body, content_type = render(endpoint.format, event, routing_key)
    headers = sent_headers if sent_headers else expected_headers(endpoint, content_type)
    parts = ["curl", "-sS", "-X", "POST", shlex.quote(url_without_credentials(endpoint.url))]
    for name, value in headers.items():
        if name.lower() in ("content-length", "host"):
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts += ["--data-binary", shlex.quote(body.decode())]
    return " ".join(parts)
