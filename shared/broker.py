"""Broker topology and connections, shared by the registry (publisher) and the notifier.

Exchanges (all durable):
- ``<exchange>`` (topic): the registry publishes every event here, routing key ``manifest.push``...
- ``<exchange>.requeue`` (direct, key = endpoint name): retries and replays come back through it.
- ``<exchange>.delay`` (direct, key = ``<endpoint>.<ms>``): failed attempts wait in a retry queue.
- ``<exchange>.dead`` (direct, key = endpoint name): dropped events are parked here.

Queues per endpoint:
- ``registry.notifications.<endpoint>``: bound to the topic exchange with ``#`` (filters run in the
  notifier, so changing a filter never needs a rebind) and to the requeue exchange.
- ``registry.notifications.<endpoint>.retry.<ms>ms``: one per backoff step (first backoff doubling
  up to the cap). On RabbitMQ each has ``x-message-ttl`` and dead-letters back to the requeue
  exchange, so the broker itself holds the wait. Redis and the filesystem transport have no TTL, so
  the notifier moves due messages back itself (:mod:`services.notifier.mover`), reading the
  ``x-due`` header. The delay is in the name: changing ``backoff`` never clashes with a queue
  declared with another TTL.
- ``registry.notifications.<endpoint>.dead``: the dead-letter queue.

``notifications.broker.queuetype: quorum`` (RabbitMQ only) declares all of them as quorum queues,
replicated over the cluster, so losing a node loses no event. A queue's type is fixed when it is
created: declaring it with another type fails (:class:`QueueConflict`).

The embedded broker (no ``notifications.broker.url``) is kombu's filesystem transport with the
channel of :mod:`shared.embedded_broker`; Redis is kombu's Redis transport with the channel of
:mod:`shared.redis_broker`.

Both sides declare the whole topology: a publisher that published before any notifier had bound
the endpoint queues would otherwise lose the event (unroutable). Only enabled endpoints are
declared; a disabled endpoint's queue is unbound from the topic exchange by the notifier at start
(:meth:`Topology.unbind_from_events`), so it stops collecting events nobody reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from amqp.exceptions import PreconditionFailed
from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.message import Message

from shared.amqp_transport import BufferedAmqpTransport
from shared.config import Config, EndpointConfig
from shared.embedded_broker import (
    AtomicFilesystemChannel,
    AtomicFilesystemTransport,
    embedded_transport_options,
)
from shared.logfmt import kv
from shared.redis_broker import ReliableRedisTransport, forget_claims

QUEUE_PREFIX = "registry.notifications."
MAX_RETRY_STEPS = 24
CONSUME_HEARTBEAT = 30.0  # seconds: RabbitMQ and a consumer each drop a connection silent for two
# Publisher side: how long one publish may wait for the broker before the event goes to the spool.
PUBLISH_CONNECT_TIMEOUT = 1.0
PUBLISH_IO_TIMEOUT = 1.0

HEADER_ATTEMPTS = "x-attempts"  # failed attempts so far
HEADER_DUE = "x-due"  # epoch seconds before which a retry must not be attempted
HEADER_ROUTING_KEY = "x-routing-key"  # the event's original routing key (manifest.push ...)
HEADER_ERROR = "x-last-error"  # why the last attempt failed, on dead-lettered events
# Set by RabbitMQ on a quorum queue's deliveries: how often the message came back to the queue.
HEADER_DELIVERY_COUNT = "x-delivery-count"


def endpoint_queue_name(endpoint: str) -> str:
    return f"{QUEUE_PREFIX}{endpoint}"


def dead_queue_name(endpoint: str) -> str:
    return f"{QUEUE_PREFIX}{endpoint}.dead"


def retry_queue_name(endpoint: str, delay: float) -> str:
    return f"{QUEUE_PREFIX}{endpoint}.retry.{delay_ms(delay)}ms"


def delay_ms(delay: float) -> int:
    return max(0, int(round(delay * 1000)))


def retry_steps(endpoint: EndpointConfig) -> list[float]:
    """The waits a retry can use: backoff, doubling, until the cap (the cap included). With no
    backoff (retries at once), 0 and then 1 s doubling to the cap: the waits left for a
    Retry-After answer, which a retry must not come sooner than (on RabbitMQ a retry waits in
    the queue of its step)."""
    cap = max(endpoint.maxbackoff, endpoint.backoff)
    steps: list[float] = []
    delay = endpoint.backoff
    if delay <= 0:
        steps.append(0.0)
        if cap <= 0:
            return steps
        delay = min(1.0, cap)
    while delay < cap and len(steps) < MAX_RETRY_STEPS - 1:
        steps.append(delay)
        delay *= 2
    steps.append(cap)
    return steps


def step_for(endpoint: EndpointConfig, wanted: float) -> float:
    """The smallest retry step at least ``wanted`` long (the cap if none is)."""
    steps = retry_steps(endpoint)
    for step in steps:
        if step >= wanted - 1e-9:
            return step
    return steps[-1]


class QueueConflict(Exception):
    """RabbitMQ refused to declare our queues: they exist with other arguments (PRECONDITION_FAILED,
    406), most likely another queue type, which can never change. Unlike an outage this does not
    heal by retrying: the queues must be deleted, or ``queuetype`` set back."""

    def __init__(self, queuetype: str, conflicts: list[tuple[str, str, str | None, str]]):
        # conflicts: (endpoint, queue, its type or None when not told, RabbitMQ's words)
        self.queuetype = queuetype
        self.conflicts = conflicts
        self.endpoints = [c[0] for c in conflicts]
        _, self.queue, self.existing, self.detail = conflicts[0]
        if self.existing:
            problem = f"exists as a {self.existing} queue, but notifications.broker.queuetype is " \
                      f"{queuetype}"
        else:
            problem = f"exists with other arguments than ours ({self.detail})"
        super().__init__(f"queue {self.queue} {problem}")

    def log_line(self, message: str, **extra: str) -> str:
        """One key=value line naming the queue and how to migrate."""
        name = self.endpoints[0] if len(self.endpoints) == 1 else "NAME"
        old = self.existing or "its old type"
        fix = (f"a queue's type cannot change: let notifiers still on queuetype={old} drain it, "
               f"stop them, disable the endpoint and run `registry queues CONFIG delete --endpoint "
               f"{name} --yes` (deletes what is left in its queues), then it is declared again as "
               f"{self.queuetype}; or set queuetype back to {old}")
        return kv(message, queue=self.queue, existing=self.existing or "other-arguments",
                  queuetype=self.queuetype, endpoints=",".join(self.endpoints), **extra, fix=fix,
                  error=None if self.existing else self.detail)


# RabbitMQ's words for a refused declare: "inequivalent arg 'x-queue-type' for queue 'q' in vhost
# '/': received the value 'quorum' of type 'longstr' but current is none" (3.10).
_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)'.*current is (?:none|(?:the value )?'(?P<value>[^']*)')")
# Arguments we give quorum queues only. RabbitMQ checks x-overflow and x-dead-letter-strategy
# before x-queue-type, so for a retry queue these are what it names.
_QUORUM_ONLY = ("x-overflow", "x-dead-letter-strategy")


def _existing_type(detail: str, wanted: str) -> str | None:
    """The type of the queue RabbitMQ refused to declare again, if its message tells."""
    match = _INEQUIVALENT.search(detail)
    if match is None:
        return None
    if match["arg"] == "x-queue-type":
        return match["value"] or "classic"  # no argument: RabbitMQ's default, classic
    if match["arg"] in _QUORUM_ONLY:
        if wanted == "quorum" and match["value"] is None:
            return "classic"
        if wanted == "classic" and match["value"] is not None:
            return "quorum"
    return None


@dataclass(frozen=True)
class Topology:
    exchange_name: str
    amqp: bool  # RabbitMQ: retry queues get a TTL and dead-letter back by themselves
    queue_type: str = "classic"  # "quorum" only on RabbitMQ (topology_for sees to it)

    @property
    def quorum(self) -> bool:
        return self.queue_type == "quorum"

    def _arguments(self, arguments: dict | None = None) -> dict | None:
        if not self.quorum:
            return arguments
        # Quorum queues are always durable, never exclusive or auto-delete: ours are all three.
        return {"x-queue-type": "quorum", **(arguments or {})}

    @property
    def exchange(self) -> Exchange:
        return Exchange(self.exchange_name, type="topic", durable=True)

    @property
    def requeue_exchange(self) -> Exchange:
        return Exchange(f"{self.exchange_name}.requeue", type="direct", durable=True)

    @property
    def delay_exchange(self) -> Exchange:
        return Exchange(f"{self.exchange_name}.delay", type="direct", durable=True)

    @property
    def dead_exchange(self) -> Exchange:
        return Exchange(f"{self.exchange_name}.dead", type="direct", durable=True)

    def endpoint_queue(self, endpoint: str) -> Queue:
        return Queue(
            endpoint_queue_name(endpoint),
            bindings=[
                binding(self.exchange, routing_key="#"),
                binding(self.requeue_exchange, routing_key=endpoint),
            ],
            durable=True,
            auto_delete=False,
            queue_arguments=self._arguments(),
        )

    def dead_queue(self, endpoint: str) -> Queue:
        return Queue(
            dead_queue_name(endpoint), exchange=self.dead_exchange, routing_key=endpoint,
            durable=True, auto_delete=False, queue_arguments=self._arguments(),
        )

    def retry_routing_key(self, endpoint: str, delay: float) -> str:
        return f"{endpoint}.{delay_ms(delay)}"

    def retry_queue(self, endpoint: str, delay: float) -> Queue:
        arguments = None
        if self.amqp:
            arguments = {
                "x-message-ttl": delay_ms(delay),
                "x-dead-letter-exchange": self.requeue_exchange.name,
                "x-dead-letter-routing-key": endpoint,
            }
            if self.quorum:
                # A quorum queue dead-letters at most once by default: a retry whose wait ended
                # while the main queue could not take it (its leader moving, a node down) would
                # be lost. At least once keeps it here until the main queue has confirmed it;
                # RabbitMQ requires reject-publish with it (3.10+, feature flag stream_queue).
                # Message TTL, per queue and per message, works on quorum queues since 3.10.
                arguments["x-dead-letter-strategy"] = "at-least-once"
                arguments["x-overflow"] = "reject-publish"
            arguments = self._arguments(arguments)
        return Queue(
            retry_queue_name(endpoint, delay), exchange=self.delay_exchange,
            routing_key=self.retry_routing_key(endpoint, delay), durable=True,
            auto_delete=False, queue_arguments=arguments,
        )

    def retry_queues(self, endpoint: EndpointConfig) -> list[Queue]:
        return [self.retry_queue(endpoint.name, d) for d in retry_steps(endpoint)]

    def bound_retry_queues(self, channel, endpoint: str) -> list[str]:
        """The names of ``endpoint``'s retry queues bound to the delay exchange, shortest wait
        first: those of its current steps and of any earlier ``backoff``/``maxbackoff``, whose
        retries still wait there. Redis and the embedded broker only, where the notifier moves
        retries on itself and bindings can be read ([] on RabbitMQ: a retry queue there
        dead-letters by itself). ``channel``: one of the broker's (a virtual transport's)."""
        if self.amqp:
            return []
        prefix = f"{endpoint}."
        waits = set()
        for routing_key, _, queue in channel.get_table(self.delay_exchange.name):
            wait = routing_key[len(prefix):] if routing_key.startswith(prefix) else ""
            if wait.isascii() and wait.isdigit() and \
                    queue == retry_queue_name(endpoint, int(wait) / 1000):
                waits.add(int(wait))
        return [retry_queue_name(endpoint, ms / 1000) for ms in sorted(waits)]

    def declare(self, connection: Connection, endpoints: Iterable[EndpointConfig]) -> None:
        """Declare exchanges and every queue of the given endpoints (idempotent).

        Raises :class:`QueueConflict` when RabbitMQ refuses queues that exist with other
        arguments (another queue type), after trying every endpoint, so it names them all."""
        channel = connection.default_channel
        for exchange in (self.exchange, self.requeue_exchange, self.delay_exchange,
                         self.dead_exchange):
            exchange(channel).declare()
        conflicts: list[tuple[str, str, str | None, str]] = []
        for endpoint in endpoints:
            queues = [self.endpoint_queue(endpoint.name), self.dead_queue(endpoint.name)]
            queues += self.retry_queues(endpoint)
            for queue in queues:
                try:
                    queue(channel).declare()
                except PreconditionFailed as exc:
                    detail = str(exc.reply_text or exc)
                    conflicts.append((endpoint.name, queue.name,
                                      _existing_type(detail, self.queue_type), detail))
                    # RabbitMQ closed the channel. The endpoint's other queues were made with
                    # the first one: skip them, and go on with the other endpoints.
                    channel = connection.channel()
                    break
        if conflicts:
            raise QueueConflict(self.queue_type, conflicts)

    # Inspecting and removing queues. None of these creates a queue: they serve endpoints that
    # are disabled or gone, whose queues must not come back by being looked at.

    @property
    def exchange_names(self) -> list[str]:
        return [e.name for e in (self.exchange, self.requeue_exchange, self.delay_exchange,
                                 self.dead_exchange)]

    def queue_size(self, connection: Connection, name: str) -> int | None:
        """Messages ready in queue ``name``, or None when it does not exist.

        RabbitMQ: a passive declare. Redis and the filesystem transport have no queue object (a
        Redis list vanishes when empty): there a queue exists while one of this topology's
        exchanges binds it or it holds messages."""
        with _channel(connection) as channel:
            if connection.transport.driver_type == "amqp":
                try:
                    _, count, _ = channel.queue_declare(queue=name, passive=True)
                except connection.channel_errors:
                    return None
                return int(count)
            count = int(channel._size(name))
            if count or any(_bindings(channel, e, name) for e in self.exchange_names):
                return count
            return None

    def unbind_from_events(self, connection: Connection, endpoint: str) -> int | None:
        """Stop ``endpoint``'s queue collecting events: remove its binding to the topic exchange.
        The events in it stay, and so does its requeue binding (a retry still waiting comes back
        to it); declaring the endpoint again binds it again. Returns the messages it holds, None
        when the queue does not exist (then nothing is created)."""
        name = endpoint_queue_name(endpoint)
        queued = self.queue_size(connection, name)
        if queued is not None:
            with _channel(connection) as channel:
                _unbind(connection, channel, self.exchange_name, name, routing_key="#")
        return queued

    def delete_queue(self, connection: Connection, name: str) -> int | None:
        """Delete queue ``name``, its bindings and its messages. Returns how many messages it
        held, None when it did not exist."""
        if self.queue_size(connection, name) is None:
            return None
        with _channel(connection) as channel:
            if connection.transport.driver_type == "amqp":
                return int(channel.queue_delete(queue=name) or 0)
            # Unbind first, then purge: what arrived meanwhile is counted, and nothing arrives
            # after. (kombu's virtual queue_delete only knows the bindings this process declared.)
            for exchange in self.exchange_names:
                _unbind(connection, channel, exchange, name)
            purged = int(channel._purge(name) or 0)
            if connection.transport.driver_type == "redis":
                with channel.conn_or_acquire() as client:
                    purged += forget_claims(client, name)
            return purged


@contextmanager
def _channel(connection: Connection) -> Iterator:
    channel = connection.channel()
    try:
        yield channel
    finally:
        try:
            channel.close()
        except Exception:  # RabbitMQ closed it already (a failed passive declare)
            pass


def _bindings(channel, exchange: str, queue: str, routing_key: str | None = None) -> list[tuple]:
    """A virtual transport's (routing key, pattern, queue) entries binding ``queue`` to
    ``exchange``, read from the broker side (Redis set, filesystem control file)."""
    return [entry for entry in channel.get_table(exchange)
            if entry[2] == queue and (routing_key is None or entry[0] == routing_key)]


def _unbind(connection: Connection, channel, exchange: str, queue: str,
            routing_key: str | None = None) -> None:
    """Remove bindings of ``queue`` to ``exchange`` (all of them when ``routing_key`` is None).

    kombu's virtual ``queue_unbind`` (Redis, filesystem) only filters a copy of the table it just
    read: the binding stays in the Redis set or the control file and the queue keeps collecting.
    Their ``_delete`` does remove it, but purges the queue too. So the entry is removed here."""
    if connection.transport.driver_type == "amqp":
        if routing_key is None:
            raise ValueError("RabbitMQ unbinds one routing key at a time")
        channel.queue_unbind(queue=queue, exchange=exchange, routing_key=routing_key)
        return
    entries = _bindings(channel, exchange, queue, routing_key)
    if not entries:
        return
    if isinstance(channel, AtomicFilesystemChannel):
        channel.drop_bindings(exchange, entries)
    elif connection.transport.driver_type == "redis":
        members = [channel.sep.join(entry) for entry in entries]
        with channel.conn_or_acquire() as client:
            client.srem(channel.keyprefix_queue % (exchange,), *members)
            # kombu >= 5.6 also keeps non-expiring bindings in a "permanent" set
            permanent = getattr(channel, "keyprefix_binding_permanent", None)
            if permanent:
                client.srem(permanent % (exchange,), *members)
    else:
        raise RuntimeError(f"no way to unbind on {connection.transport.driver_type}")  # config allows none


def topology_for(config: Config) -> Topology:
    amqp = is_amqp(config)
    queue_type = config.notifications.broker.queuetype if amqp else "classic"
    return Topology(config.notifications.broker.exchange, amqp=amqp, queue_type=queue_type)


def ignored_queue_type(config: Config) -> str | None:
    """The broker on which the configured ``queuetype`` means nothing (Redis, the embedded
    broker: one kind of queue), or None. The same config file may serve a dev setup on those, so
    this is a warning at start-up, not an error."""
    if config.notifications.broker.queuetype == "classic" or is_amqp(config):
        return None
    if embedded_directory(config) is not None:
        return "embedded"
    return (config.notifications.broker.url or "").split(":", 1)[0]


def enabled_endpoints(config: Config) -> list[EndpointConfig]:
    return [e for e in config.notifications.endpoints if not e.disabled]


def embedded_directory(config: Config) -> Path | None:
    """The embedded broker's folder, or None for a network broker."""
    url = config.notifications.broker.url
    if url is None or url.startswith("filesystem:"):
        return config.broker_directory()
    return None


def is_amqp(config: Config) -> bool:
    url = config.notifications.broker.url or ""
    return url.split(":", 1)[0] in ("amqp", "amqps", "pyamqp")


def republish_afresh(producer: Producer, message: Message, exchange: Exchange | str,
                     routing_key: str) -> None:
    """Publish ``message`` again as it came, as a new message (confirmed on RabbitMQ), then
    acknowledge it. A RabbitMQ quorum queue counts each return of a message and drops it past
    its delivery limit (20 by default since 4.0); a new message starts that count over. A crash
    between the two steps leaves both (at least once)."""
    headers = {k: v for k, v in (message.headers or {}).items() if k != HEADER_DELIVERY_COUNT}
    producer.publish(
        message.body, exchange=exchange, routing_key=routing_key,
        content_type=message.content_type, content_encoding=message.content_encoding,
        headers=headers, delivery_mode=2, retry=False,
    )
    message.ack()


def queue_depth(connection: Connection, queue: Queue) -> int:
    """Messages ready in ``queue``. On RabbitMQ a passive declare (never creates it with other
    arguments); Redis has no key for an empty queue, so there a plain declare (a no-op) answers 0."""
    channel = connection.channel()
    try:
        passive = connection.transport.driver_type == "amqp"
        _, count, _ = queue(channel).queue_declare(passive=passive)
        return int(count)
    finally:
        channel.close()


# ---------------------------------------------------------------- connections


def _visibility_timeout(config: Config) -> float:
    """Redis redelivers an unacknowledged message after this long (so this is how soon a killed
    notifier's deliveries go to another). A consumer holds a message unacked for one attempt
    (at most the endpoint's timeout, prefetch being the pool size); the retry mover reads
    heads in place and holds a message only while it republishes it."""
    longest = max([e.timeout for e in config.notifications.endpoints] or [1.0])
    return 3 * longest + 10.0


def connect(config: Config, purpose: str = "consume") -> Connection:
    """A kombu connection to the configured broker (not yet connected).

    ``purpose="publish"``: short connect and I/O timeouts, and publisher confirms on RabbitMQ, so
    a publish either is confirmed or fails within a bounded time (then the spool takes the event).
    """
    broker = config.notifications.broker
    url = broker.url
    directory = embedded_directory(config)
    if directory is not None:
        options = embedded_transport_options(directory)
        return Connection(transport=AtomicFilesystemTransport, transport_options=options)
    scheme = url.split(":", 1)[0]
    publish = purpose == "publish"
    if scheme in ("amqp", "amqps", "pyamqp"):
        options: dict = {"confirm_publish": True}
        if publish:
            options.update(read_timeout=PUBLISH_IO_TIMEOUT, write_timeout=PUBLISH_IO_TIMEOUT)
        return Connection(
            url,
            # amqps keeps kombu's own TLS transport (the scheme is what turns TLS on).
            transport=None if scheme == "amqps" else BufferedAmqpTransport,
            connect_timeout=PUBLISH_CONNECT_TIMEOUT if publish else 5.0,
            heartbeat=0 if publish else CONSUME_HEARTBEAT,
            transport_options=options,
        )
    if broker.redis:
        options = {
            "visibility_timeout": _visibility_timeout(config),
            # A dead channel's claims come back after this long (shared.redis_broker): as long
            # as a consumer may go without acking, the time one delivery attempt may take.
            "claim_ttl": _visibility_timeout(config),
            "priority_steps": [0],  # no priorities: each queue is one list, popped atomically
            "socket_connect_timeout": PUBLISH_CONNECT_TIMEOUT if publish else 5.0,
            # A consumer looks for a dead peer's unacked messages on one idle poll in 50
            # (0.1-2.5 s), not one in 10 of its restore interval; and a peer killed while
            # holding the restore mutex blocks restores for 10 s, not the default 300 s.
            "unacked_restore_throttle": 50,
            "unacked_mutex_expire": 10,
        }
        if publish:
            options["socket_timeout"] = PUBLISH_IO_TIMEOUT
        return Connection(url, transport=ReliableRedisTransport, transport_options=options)
    return Connection(url)
