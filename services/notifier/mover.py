"""Retry queues for brokers without message TTLs (Redis, the embedded filesystem broker).

On RabbitMQ each retry queue has ``x-message-ttl`` and dead-letters back to the endpoint's queue
by itself. Elsewhere this mover does it: when the head of a retry queue is due (its ``x-due``
header), it takes it (unacknowledged), republishes it to the endpoint's queue and only then
acknowledges it. Every message of one retry queue waited the same step, so the head is always
the first due. On Redis the head is taken only once due, in one atomic step
(:meth:`shared.broker.redis_transport.ReliableRedisChannel.get_due`), so no message is held unacknowledged
for long and Redis's visibility timeout can stay short; the embedded broker has no such step, so
there the head is taken and held (a claimed file: a crash puts it back).

The retry queues are those of the endpoint's backoff steps, and those an earlier ``backoff`` or
``maxbackoff`` left with retries in them (found on the broker every few seconds): nothing else
would ever move those on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kombu import Connection, Producer
from kombu.message import Message
from kombu.serialization import prepare_accept_content

from shared.broker import HEADER_DUE, Topology
from shared.config import EndpointConfig
from shared.logfmt import kv

log = logging.getLogger("notifier")

POLL_INTERVAL = 0.05
# How often the broker is searched for retry queues of earlier backoff steps. Only notifiers on
# an older config still publish to them (a rolling update): a few seconds late is fine.
DISCOVERY_INTERVAL = 10.0
ACCEPT = prepare_accept_content(["json"])


class RetryMover:
    def __init__(self, connection: Connection, topology: Topology, endpoint: EndpointConfig):
        self.channel = connection.channel()
        self.redis = connection.transport.driver_type == "redis"
        self.topology = topology
        self.endpoint = endpoint
        self.configured = [q.name for q in topology.retry_queues(endpoint)]
        self.names = list(self.configured)
        self.held: dict[str, Message] = {}
        self.next_poll = 0.0
        self.next_discovery = 0.0

    def tick(self, producer: Producer) -> None:
        now_mono = time.monotonic()
        now = time.time()
        due_held = any(_due(m) <= now for m in self.held.values())
        if now_mono < self.next_poll and not due_held:
            return
        self.next_poll = now_mono + POLL_INTERVAL
        if now_mono >= self.next_discovery:
            self.next_discovery = now_mono + DISCOVERY_INTERVAL
            self._discover()
        for name in self.names:
            while (message := self._due_head(name, now)) is not None:
                headers = {k: v for k, v in (message.headers or {}).items() if k != HEADER_DUE}
                producer.publish(
                    message.payload, exchange=self.topology.requeue_exchange,
                    routing_key=self.endpoint.name, headers=headers, delivery_mode=2,
                    retry=False,
                )
                message.ack()
                self.held.pop(name, None)

    def _due_head(self, name: str, now: float) -> Message | None:
        if self.redis:
            message = self.channel.get_due(name, HEADER_DUE, now)
        else:
            message = self.held.get(name)
            if message is None:
                message = self.channel.basic_get(name, no_ack=False)
            if message is not None:
                self.held[name] = message
                if _due(message) > now:
                    return None
        if message is not None:
            message.accept = ACCEPT  # its payload is republished: JSON only, never pickle
        return message

    def _discover(self) -> None:
        """Add the retry queues of steps the config no longer has that hold retries."""
        earlier = [n for n in self.topology.bound_retry_queues(self.channel, self.endpoint.name)
                   if n not in self.configured and (n in self.held or self.channel._size(n))]
        for name in earlier:
            if name not in self.names:
                log.info(kv("moving retries of an earlier backoff", endpoint=self.endpoint.name,
                            queue=name))
        self.names = [*self.configured, *earlier]

    def release(self) -> None:
        """On shutdown: give the held heads back to their retry queues."""
        for message in self.held.values():
            try:
                message.reject(requeue=True)
            except Exception as exc:  # the broker restores unacked messages on its own
                log.debug(kv("retry mover: requeue failed", error=exc))
        self.held.clear()


def _due(message: Message) -> float:
    return _due_of(message.headers)


def _due_of(headers: Any) -> float:
    try:
        return float((headers or {}).get(HEADER_DUE, 0) or 0)
    except (TypeError, ValueError, AttributeError):
        return 0.0
