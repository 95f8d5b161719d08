"""The exchanges and queues of every endpoint (see :mod:`shared.broker`), declared, inspected
and removed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from amqp.exceptions import PreconditionFailed
from kombu import Connection, Exchange, Queue, binding

from shared.broker.conflict import QueueConflict, existing_type
from shared.broker.embedded import AtomicFilesystemChannel
from shared.broker.kind import is_amqp
from shared.broker.names import (
    dead_queue_name,
    delay_ms,
    endpoint_queue_name,
    retry_queue_name,
)
from shared.broker.steps import retry_steps
from shared.config import Config, EndpointConfig


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
                                      existing_type(detail, self.queue_type), detail))
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
                from shared.broker.redis_transport import forget_claims  # Redis only (slow import)

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



def enabled_endpoints(config: Config) -> list[EndpointConfig]:
    return [e for e in config.notifications.endpoints if not e.disabled]



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
