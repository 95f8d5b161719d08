"""Retry queues for brokers without message TTLs (Redis, the embedded filesystem broker).

On RabbitMQ each retry queue has ``x-message-ttl`` and dead-letters back to the endpoint's queue
by itself. Elsewhere this mover does it: it takes the head of each retry queue (unacknowledged,
so Redis redelivers it if we crash), holds it until its ``x-due`` time, republishes it to the
endpoint's queue and only then acknowledges it. Every message of one retry queue waited the
same step, so the head is always the first due: holding only the head is enough.
"""

from __future__ import annotations

import logging
import time

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
    try:
        return float((message.headers or {}).get(HEADER_DUE, 0) or 0)
    except (TypeError, ValueError):
        return 0.0
