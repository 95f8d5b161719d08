"""Turns successful registry operations into events, the reference registry's way.

The HTTP layer calls one method per successful operation, after it succeeded; a failed
operation never reaches here. Rules (see the team's reference event examples): blob targets
carry ``application/octet-stream``; a manifest ``url`` always names the digest; ``tag`` only
when the request named one; deletes carry only the digest (or the tag) and the repository.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.registry.domain.descriptors import BLOB_MEDIA_TYPE, Descriptor
from shared.config import Config
from shared.console_reads import is_console_read
from shared.events import Event, EventSink, NullSink, RequestRecord, Source, Target
from shared.logfmt import kv

log = logging.getLogger("registry.events")

# One per process, as the reference's instance id; a forked worker gets its own.
_instance: tuple[int, str] = (os.getpid(), str(uuid.uuid4()))


def instance_id() -> str:
    global _instance
    if _instance[0] != os.getpid():
        _instance = (os.getpid(), str(uuid.uuid4()))
    return _instance[1]


@dataclass(frozen=True)
class RequestContext:
    """What an event records about the request that caused it."""

    id: str
    addr: str
    host: str
    method: str
    useragent: str
    base_url: str  # "http://registry.example.com" (no trailing slash)
    actor: str | None = None
    console_read: str | None = None  # the console's header, if the request carried one

    def record(self) -> RequestRecord:
        return RequestRecord(id=self.id, addr=self.addr, host=self.host, method=self.method,
                             useragent=self.useragent)


def source_for(config: Config) -> Source:
    """``hostname:port`` of the listening address, and this process's instance id."""
    port = config.http.addr.rsplit(":", 1)[-1]
    return Source(addr=f"{socket.gethostname()}:{port}", instance_id=instance_id())


def _when_enabled(method: Callable[..., None]) -> Callable[..., None]:
    """An event method that does nothing, not even build the event, where no endpoint is
    enabled (the sink drops everything): every request would pay for an unused event."""

    @functools.wraps(method)
    def emit(self: EventBridge, *args: Any, **kwargs: Any) -> None:
        if self.enabled:
            method(self, *args, **kwargs)

    return emit


class EventBridge:
    def __init__(self, sink: EventSink, source: Source, include_references: bool = False,
                 secret: str | None = None):
        self.sink = sink
        self.enabled = not isinstance(sink, NullSink)
        self.source = source
        self.include_references = include_references
        self.secret = secret  # http.secret: recognises the web console's reads

    @classmethod
    def from_config(cls, config: Config, sink: EventSink) -> EventBridge:
        return cls(sink, source_for(config), config.notifications.includereferences,
                   config.http.secret)

    def _browsing(self, ctx: RequestContext) -> bool:
        """A person looking at an image in the web console is not pulling it: no pull event."""
        return is_console_read(ctx.console_read, self.secret)

    # ------------------------------------------------------------ plumbing
    def _emit(self, ctx: RequestContext, kind: str, action: str, target: Target) -> None:
        event = Event(kind=kind, action=action, target=target, request=ctx.record(),
                      source=self.source, actor=ctx.actor)
        try:
            self.sink.write(event)
        except Exception as exc:  # the sink must not raise; if it does, the request still stands
            log.error(kv("event sink failed", action=action, repository=target.repository,
                         error=exc))

    @staticmethod
    def _url(ctx: RequestContext, repo: str, kind: str, digest: str) -> str:
        return f"{ctx.base_url}/v2/{repo}/{kind}/{digest}"

    def _blob_target(self, ctx: RequestContext, repo: str, desc: Descriptor,
                     from_repo: str | None = None) -> Target:
        return Target(repository=repo, digest=desc.digest, media_type=BLOB_MEDIA_TYPE,
                      size=desc.size, url=self._url(ctx, repo, "blobs", desc.digest),
                      from_repository=from_repo)

    def _manifest_target(self, ctx: RequestContext, repo: str, desc: Descriptor,
                         tag: str | None, references: Sequence[str]) -> Target:
        return Target(repository=repo, digest=desc.digest, media_type=desc.media_type,
                      size=desc.size, url=self._url(ctx, repo, "manifests", desc.digest),
                      tag=tag,
                      references=list(references) if self.include_references else None)

    # ------------------------------------------------------------ blobs
    @_when_enabled
    def blob_pulled(self, ctx: RequestContext, repo: str, desc: Descriptor) -> None:
        if self._browsing(ctx):
            return
        self._emit(ctx, "blob", "pull", self._blob_target(ctx, repo, desc))

    @_when_enabled
    def blob_pushed(self, ctx: RequestContext, repo: str, desc: Descriptor) -> None:
        self._emit(ctx, "blob", "push", self._blob_target(ctx, repo, desc))

    @_when_enabled
    def blob_mounted(self, ctx: RequestContext, repo: str, desc: Descriptor,
                     from_repo: str) -> None:
        self._emit(ctx, "blob", "mount", self._blob_target(ctx, repo, desc, from_repo))

    @_when_enabled
    def blob_deleted(self, ctx: RequestContext, repo: str, digest: str) -> None:
        self._emit(ctx, "blob", "delete", Target(repository=repo, digest=digest))

    # ------------------------------------------------------------ manifests and tags
    @_when_enabled
    def manifest_pulled(self, ctx: RequestContext, repo: str, desc: Descriptor,
                        tag: str | None = None, references: Sequence[str] = ()) -> None:
        if self._browsing(ctx):
            return
        self._emit(ctx, "manifest", "pull",
                   self._manifest_target(ctx, repo, desc, tag, references))

    @_when_enabled
    def manifest_pushed(self, ctx: RequestContext, repo: str, desc: Descriptor,
                        tag: str | None = None, references: Sequence[str] = ()) -> None:
        self._emit(ctx, "manifest", "push",
                   self._manifest_target(ctx, repo, desc, tag, references))

    @_when_enabled
    def manifest_deleted(self, ctx: RequestContext, repo: str, digest: str) -> None:
        self._emit(ctx, "manifest", "delete", Target(repository=repo, digest=digest))

    @_when_enabled
    def tag_deleted(self, ctx: RequestContext, repo: str, tag: str) -> None:
        self._emit(ctx, "tag", "delete", Target(repository=repo, tag=tag))
