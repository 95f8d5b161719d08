"""The ``notifications`` section: endpoints, and our broker settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from shared.config.errors import ConfigError
from shared.config.secrets import expand_secret
from shared.config.section import Section

EVENT_FORMATS = ("event", "envelope", "cloudevents")
EVENT_ACTIONS = ("pull", "push", "mount", "delete")
QUEUE_TYPES = ("classic", "quorum")


@dataclass(frozen=True)
class EndpointTLSConfig:
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    insecureskipverify: bool = False


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    url: str
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout: float = 1.0
    threshold: int = 10
    backoff: float = 1.0
    maxbackoff: float = 300.0
    disabled: bool = False
    format: str = "event"
    # ignoredmediatypes and ignore.mediatypes, merged as the reference does
    ignored_mediatypes: tuple[str, ...] = ()
    ignored_actions: tuple[str, ...] = ()
    ignored_repositories: tuple[str, ...] = ()
    ignore_headrequests: bool = False
    repositories: tuple[str, ...] = ()  # empty: all repositories
    signing_secrets: tuple[str, ...] = ()
    tls: EndpointTLSConfig = field(default_factory=EndpointTLSConfig)
    concurrency: int = 8
    # Every delivery failing for this long pauses the endpoint (probed once a minute); 0: never.
    autopause: float = 1800.0


@dataclass(frozen=True)
class BrokerConfig:
    url: str | None = None  # None: the embedded broker on local disk
    exchange: str = "registry.events"
    directory: str | None = None  # embedded broker's folder (default: under the storage root)
    spooldirectory: str | None = None  # where events wait while the broker is unreachable
    # RabbitMQ queue type of every queue we declare. "quorum" (replicated) survives the loss of a
    # cluster node; Redis and the embedded broker have one kind of queue and ignore it.
    queuetype: str = "classic"

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def redis(self) -> bool:
        return (self.url or "").split(":", 1)[0] in ("redis", "rediss")


@dataclass(frozen=True)
class NotificationsConfig:
    endpoints: tuple[EndpointConfig, ...] = ()
    includereferences: bool = False
    broker: BrokerConfig = field(default_factory=BrokerConfig)



def parse_notifications(n: Section) -> NotificationsConfig:
    events = n.section("events")
    broker = n.section("broker")
    url = broker.str("url")
    if url:
        scheme = urlparse(url).scheme
        if scheme not in ("amqp", "amqps", "pyamqp", "redis", "rediss", "filesystem", "memory"):
            raise ConfigError("notifications.broker.url", f"unsupported broker scheme {scheme!r}")
    queuetype = (broker.str("queuetype", "classic") or "").lower()  # "" is no type either
    if queuetype not in QUEUE_TYPES:
        raise ConfigError("notifications.broker.queuetype",
                          f"expected {' or '.join(QUEUE_TYPES)}, got {queuetype!r}")
    raw_endpoints = n.value("endpoints") or []
    if not isinstance(raw_endpoints, list):
        raise ConfigError("notifications.endpoints", "expected a list")
    endpoints = []
    for i, raw in enumerate(raw_endpoints):
        endpoints.append(_endpoint(Section(raw, f"notifications.endpoints.{i}", n.seen)))
    names = [e.name for e in endpoints]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("notifications.endpoints", f"endpoint name {name!r} is used twice")
    return NotificationsConfig(
        endpoints=tuple(endpoints),
        includereferences=events.bool("includereferences"),
        broker=BrokerConfig(
            url=url or None,
            exchange=broker.str("exchange", "registry.events") or "registry.events",
            directory=broker.str("directory"),
            spooldirectory=broker.str("spooldirectory"),
            queuetype=queuetype,
        ),
    )


_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _endpoint(e: Section) -> EndpointConfig:
    name = e.str("name", required=True) or ""
    if not _ENDPOINT_NAME.match(name):
        raise ConfigError(e.key("name"), f"use letters, digits, '.', '_' and '-' only, got {name!r}")
    url = e.str("url", required=True) or ""
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ConfigError(e.key("url"), f"expected an http:// or https:// URL, got {url!r}")
    fmt = (e.str("format", "event") or "event").lower()
    if fmt not in EVENT_FORMATS:
        raise ConfigError(e.key("format"), f"expected one of {', '.join(EVENT_FORMATS)}, got {fmt!r}")
    ignore = e.section("ignore")
    actions = ignore.strings("actions")
    for action in actions:
        if action not in EVENT_ACTIONS:
            raise ConfigError(ignore.key("actions"), f"unknown action {action!r}")
    signing = e.section("signing")
    secrets = list(signing.strings("secrets"))
    if signing.str("secret"):
        secrets.insert(0, signing.str("secret") or "")
    secrets = [expand_secret(s, signing.key("secret")) for s in secrets]
    for s in secrets:
        if not s.startswith("whsec_"):
            raise ConfigError(signing.key("secret"), "a signing secret starts with whsec_")
    tls = e.section("tls")
    timeout = e.duration("timeout", 1.0)
    backoff = e.duration("backoff", 1.0)
    return EndpointConfig(
        name=name,
        url=url,
        headers=e.headers("headers"),
        timeout=timeout if timeout else 1.0,
        threshold=e.int("threshold", 10, minimum=1) or 10,
        backoff=backoff if backoff is not None else 1.0,
        maxbackoff=e.duration("maxbackoff", 300.0) or 300.0,
        disabled=e.bool("disabled"),
        format=fmt,
        ignored_mediatypes=tuple(
            dict.fromkeys(e.strings("ignoredmediatypes") + ignore.strings("mediatypes"))
        ),
        ignored_actions=actions,
        ignored_repositories=ignore.strings("repositories"),
        ignore_headrequests=ignore.bool("headrequests"),
        repositories=e.strings("repositories"),
        signing_secrets=tuple(secrets),
        tls=EndpointTLSConfig(
            ca=tls.str("ca"),
            certificate=tls.str("certificate"),
            key=tls.str("key"),
            insecureskipverify=tls.bool("insecureskipverify"),
        ),
        concurrency=e.int("concurrency", 8, minimum=1) or 8,
        autopause=e.duration("autopause", 1800.0) or 0.0,
    )
