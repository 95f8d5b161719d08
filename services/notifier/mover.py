"""Retry queues for brokers without message TTLs (Redis, the embedded filesystem broker).

On RabbitMQ each retry queue has ``x-message-ttl`` and dead-letters back to the endpoint's queue
by itself. Elsewhere this mover does it: when the head of a retry queue is due (its ``x-due``
header), it takes it (unacknowledged), republishes it to the endpoint's queue and only then
acknowledges it. Every message of one retry queue waited the same step, so the head is always
the first due. On Redis the head is read in place (``LINDEX``) until due, so no message is held
unacknowledged for long and Redis's visibility timeout can stay short; the embedded broker has
no peek, so there the head is taken and held (a claimed file: a crash puts it back).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from kombu import Connection, Producer
from kombu.message import Message

from shared.broker import HEADER_DUE, Topology
from shared.config import EndpointConfig
from shared.logfmt import kv

log = logging.getLogger("notifier")

POLL_INTERVAL = 0.05


class RetryMover:
    def __init__(self, connection: Connection, topology: Topology, endpoint: EndpointConfig):
        self.channel = connection.channel()
        self.peek = _redis_peek if connection.transport.driver_type == "redis" else None
        self.topology = topology
        self.endpoint = endpoint
        self.queues = [q(self.channel) for q in topology.retry_queues(endpoint)]
        self.held: dict[str, Message] = {}
        self.next_poll = 0.0

    def tick(self, producer: Producer) -> None:
        now_mono = time.monotonic()
        now = time.time()
        due_held = any(_due(m) <= now for m in self.held.values())
        if now_mono < self.next_poll and not due_held:
            return
        self.next_poll = now_mono + POLL_INTERVAL
        for queue in self.queues:
            while True:
                message = self.held.get(queue.name)
                if message is None:
                    if self.peek is not None:
                        head = self.peek(self.channel, queue.name)
                        if head is None or head > now:
                            break  # empty, or not due yet: leave it in Redis
                    message = queue.get(no_ack=False, accept=["json"])
                    if message is None:
                        break
                    self.held[queue.name] = message
                if _due(message) > now:
                    break
                headers = {k: v for k, v in (message.headers or {}).items() if k != HEADER_DUE}
                producer.publish(
                    message.payload, exchange=self.topology.requeue_exchange,
                    routing_key=self.endpoint.name, headers=headers, delivery_mode=2,
                    retry=False,
                )
                message.ack()
                del self.held[queue.name]

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


def _redis_peek(channel: Any, queue: str) -> float | None:
    """The due time of the next message of a Redis-backed kombu queue, without taking it;
    None when the queue is empty. kombu pushes on the left and pops on the right, per priority
    key (the same keys, in the same order, as its ``_get``)."""
    with channel.conn_or_acquire() as client:
        for priority in channel.priority_steps:
            raw = client.lindex(channel._q_for_pri(queue, priority), -1)
            if raw:
                try:
                    return _due_of(json.loads(raw).get("headers"))
                except (ValueError, AttributeError):
                    return 0.0  # unreadable: let the normal path take and handle it
    return None
