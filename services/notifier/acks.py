"""Acknowledging the messages a consumer has settled, several in one frame where it can.

On RabbitMQ each ack is a frame the consumer thread builds and writes, and every event passes
through that one thread: a backlog drains faster with fewer of them. Delivery tags grow in the
order messages arrive on a channel, and one ``multiple`` ack covers every outstanding tag up to
its own: so the settled messages at the head of those still held go in one ack. A settled
message behind one still in delivery is acknowledged on its own at once, never kept waiting:
a message held unacknowledged takes a prefetch slot, and a slow delivery would hold back the
rest of the window. Messages acknowledged elsewhere (parked, requeued afresh) never enter here,
and are no longer outstanding when a ``multiple`` ack passes over their tags.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from kombu.message import Message


class AckWindow:
    """The delivery tags handed out for delivery on one channel, in arrival order.

    ``coalesce=False`` (the Redis and embedded brokers, whose acks are not frames) acknowledges
    each message on its own."""

    def __init__(self, coalesce: bool):
        self.coalesce = coalesce
        self.held: deque[int] = deque()

    def hold(self, message: Message) -> None:
        if self.coalesce:
            self.held.append(message.delivery_tag)

    def ack(self, messages: Iterable[Message]) -> None:
        """Acknowledge ``messages`` (each held, settled: delivered, or its outcome published)."""
        if not self.coalesce:
            for message in messages:
                message.ack()
            return
        settled = {message.delivery_tag: message for message in messages}
        head = None
        while self.held and self.held[0] in settled:
            head = settled.pop(self.held.popleft())
        if head is not None:
            head.ack(multiple=True)
        for tag, message in settled.items():
            self.held.remove(tag)
            message.ack()
