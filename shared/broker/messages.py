"""Publishing a message we received again."""

from __future__ import annotations

from kombu import Exchange, Producer
from kombu.message import Message

from shared.broker.names import HEADER_DELIVERY_COUNT


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
