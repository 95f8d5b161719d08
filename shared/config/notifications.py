"""The ``notifications`` section: endpoints, and our broker settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from kombu.utils.url import maybe_sanitize_url

from shared.config.errors import ConfigError
from shared.config.secrets import expand_secret
from shared.config.section import Section
from shared.config.signing import signing_key

EVENT_FORMATS = ("event", "envelope", "cloudevents")
EVENT_ACTIONS = ("pull", "push", "mount", "delete")
QUEUE_TYPES = ("classic", "quorum")
# Broker URL schemes by kind of broker: the nodes of one broker are all of one kind.
BROKER_KINDS = {
    "amqp": "rabbitmq", "amqps": "rabbitmq", "pyamqp": "rabbitmq",
    "redis": "redis", "rediss": "redis",
    "filesystem": "embedded", "memory": "memory",
}


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
    # The broker's nodes, in the order given: several are a RabbitMQ cluster's, and a connection
    # tries each in turn (shared.broker.connection). Empty: the embedded broker on local disk.
    nodes: tuple[str, ...] = ()
    exchange: str = "registry.events"
    directory: str | None = None  # embedded broker's folder (default: under the storage root)
    spooldirectory: str | None = None  # where events wait while the broker is unreachable
    # RabbitMQ queue type of every queue we declare. "quorum" (replicated) survives the loss of a
    # cluster node; Redis and the embedded broker have one kind of queue and ignore it.
    queuetype: str = "classic"

    @property
    def url(self) -> str | None:
        """The first node's URL (every node's has the same kind of scheme); None: embedded."""
        return self.nodes[0] if self.nodes else None

    @property
    def embedded(self) -> bool:
        return not self.nodes

    @property
    def redis(self) -> bool:
        return (self.url or "").split(":", 1)[0] in ("redis", "rediss")

    @property
    def display(self) -> str:
        """The broker for a log line: each node's URL with its password masked."""
        if not self.nodes:
            return "embedded"
        return ",".join(maybe_sanitize_url(node) for node in self.nodes)


@dataclass(frozen=True)
class NotificationsConfig:
    endpoints: tuple[EndpointConfig, ...] = ()
    includereferences: bool = False
    broker: BrokerConfig = field(default_factory=BrokerConfig)



def parse_notifications(n: Section) -> NotificationsConfig:
    events = n.section("events")
    broker = n.section("broker")
    nodes = _broker_nodes(broker)
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
            nodes=nodes,
            exchange=broker.str("exchange", "registry.events") or "registry.events",
            directory=broker.str("directory"),
            spooldirectory=broker.str("spooldirectory"),
            queuetype=queuetype,
        ),
    )


def _broker_nodes(broker: Section) -> tuple[str, ...]:
    """``url``: one URL, several in kombu's failover form (``amqp://n1;amqp://n2``), or a list of
    URLs: the nodes of one RabbitMQ cluster. Each is checked here, so a typo in the third node
    stops start-up rather than the failover that would need it."""
    key = broker.key("url")
    raw = broker.value("url")
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        given = raw.split(";")
    elif isinstance(raw, list) and all(isinstance(u, str) for u in raw):
        given = list(raw)
    else:
        raise ConfigError(key, "expected a URL, several separated by ';', or a list of URLs")
    nodes = tuple(u.strip() for u in given if u.strip())
    kinds = set()
    for node in nodes:
        scheme = urlparse(node).scheme
        if scheme not in BROKER_KINDS:
            # The scheme alone: the rest of a URL may hold a password.
            raise ConfigError(key, f"unsupported broker scheme {scheme!r}")
        kinds.add(BROKER_KINDS[scheme])
    if len(kinds) > 1:
        raise ConfigError(key, "the nodes of one broker are of one kind, got "
                               + " and ".join(sorted(kinds)))
    if len(nodes) > 1 and kinds != {"rabbitmq"}:
        # kombu would fail over between independent servers, each holding its own queues: an
        # event published to one would wait there while the notifiers read another.
        raise ConfigError(key, "several nodes are for a RabbitMQ cluster (amqp://); "
                               f"{kinds.pop()} takes one URL")
    return nodes


def _signing_secrets(signing: Section) -> list[str]:
    """``signing.secret`` and ``signing.secrets``, expanded, each checked to be able to sign."""
    keyed = [(signing.key(f"secrets.{i}"), s) for i, s in enumerate(signing.strings("secrets"))]
    if signing.str("secret"):
        keyed.insert(0, (signing.key("secret"), signing.str("secret") or ""))
    secrets = []
    for key, raw in keyed:
        secret = expand_secret(raw, key)
        try:
            signing_key(secret)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
        secrets.append(secret)
    return secrets


_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # fullmatch


def _endpoint(e: Section) -> EndpointConfig:
    name = e.str("name", required=True) or ""
    if not _ENDPOINT_NAME.fullmatch(name):
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
    secrets = _signing_secrets(e.section("signing"))
    tls = e.section("tls")
    timeout = e.duration("timeout", 1.0)
    backoff = e.duration("backoff", 1.0)
    return EndpointConfig(
        name=name,
        url=url,
        headers=e.headers("headers", secrets=True),
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
