"""The event model: what one registry operation looks like on the wire.

The JSON shape is the reference registry's (see the team's reference event examples): field
names, their order, and which fields are left out when empty. An :class:`Event` also knows its
``kind`` (manifest, blob, tag, repository), which the payload does not carry but the broker's
routing key does.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

ENVELOPE_MEDIA_TYPE = "application/vnd.docker.distribution.events.v2+json"
BLOB_MEDIA_TYPE = "application/octet-stream"

KINDS = ("manifest", "blob", "tag", "repository")
ACTIONS = ("push", "pull", "mount", "delete")
# The action of an event an operator sends to try an endpoint (``registry endpoints test``).
TEST_ACTION = "test"


def rfc3339_now() -> str:
    """UTC time with nanoseconds, trailing zeros trimmed, as Go's RFC3339Nano writes it."""
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    fraction = f"{frac:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


@dataclass
class Target:
    repository: str
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    url: str | None = None
    tag: str | None = None
    from_repository: str | None = None
    references: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.size is not None:
            out["size"] = self.size
        if self.digest:
            out["digest"] = self.digest
        if self.size is not None:
            out["length"] = self.size
        out["repository"] = self.repository
        if self.from_repository:
            out["fromRepository"] = self.from_repository
        if self.url:
            out["url"] = self.url
        if self.tag:
            out["tag"] = self.tag
        if self.references:
            out["references"] = list(self.references)
        return out


@dataclass
class RequestRecord:
    id: str
    addr: str
    host: str
    method: str
    useragent: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "addr": self.addr,
            "host": self.host,
            "method": self.method,
            "useragent": self.useragent,
        }


@dataclass
class Source:
    addr: str
    instance_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"addr": self.addr, "instanceID": self.instance_id}


@dataclass
class Event:
    kind: str  # manifest | blob | tag | repository; not in the payload, used for routing
    action: str
    target: Target
    request: RequestRecord
    source: Source
    actor: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: str = field(default_factory=rfc3339_now)

    @property
    def routing_key(self) -> str:
        return f"{self.kind}.{self.action}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "action": self.action,
            "target": self.target.to_dict(),
            "request": self.request.to_dict(),
            "actor": {"name": self.actor} if self.actor else {},
            "source": self.source.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def event_time(timestamp: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp with up to nanoseconds (None if unreadable)."""
    if not timestamp or not isinstance(timestamp, str):
        return None
    text = timestamp.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def routing_key_for(payload: dict[str, Any]) -> str:
    """The routing key of an event already in JSON form (``manifest.push``, ``blob.pull`` ...),
    for events that come back from a spool or a dead-letter queue."""
    target = payload.get("target", {})
    action = payload.get("action", "unknown")
    media_type = target.get("mediaType")
    if media_type == BLOB_MEDIA_TYPE:
        kind = "blob"
    elif media_type:
        kind = "manifest"
    elif target.get("tag") and not target.get("digest"):
        kind = "tag"
    elif "/blobs/" in (target.get("url") or ""):
        kind = "blob"
    else:
        kind = "manifest"
    return f"{kind}.{action}"


class EventSink(Protocol):
    """Where the registry hands each event after the operation succeeded.

    ``write`` must return only once the event is durable (in the broker, or in the local
    spool): the client's response waits for it. It must not raise for a broker outage.
    """

    def write(self, event: Event) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """Drops events: for a registry with notifications turned off."""

    def write(self, event: Event) -> None:
        return None

    def close(self) -> None:
        return None


class RecordingSink:
    """Keeps events in a list: for tests."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        return None
