"""The registry's publish on RabbitMQ (services/registry/events/amqp_publish.py) against the real
broker: the message a consumer gets is the one kombu's producer sends (properties, headers and
body), it returns only once the broker confirmed, a nack and a missing exchange are errors, and
a body larger than a frame arrives whole."""

from __future__ import annotations

import json
import uuid

import pytest
from amqp.exceptions import MessageNacked, NotFound
from kombu import Connection, Exchange, Producer, Queue

from services.registry.events.amqp_publish import ConfirmedPublisher
from shared.broker.amqp_transport import BufferedAmqpTransport

HEADERS = {"x-routing-key": "manifest.push", "x-attempts": 0}


@pytest.fixture
def broker(rabbitmq_url):
    """A connection on the buffered transport (as the registry's), a scratch exchange and a
    queue bound to it; both deleted afterwards."""
    name = f"confirmed-publish-{uuid.uuid4().hex[:8]}"
    connection = Connection(rabbitmq_url, transport=BufferedAmqpTransport,
                            transport_options={"confirm_publish": True})
    connection.ensure_connection(max_retries=1)
    exchange = Exchange(name, "topic", durable=False, auto_delete=False)
    queue = Queue(name, exchange, routing_key="#", durable=False)
    queue(connection.default_channel).declare()
    yield connection, exchange, queue
    with Connection(rabbitmq_url) as cleanup:
        queue(cleanup.default_channel).delete()
        exchange(cleanup.default_channel).delete()
    connection.release()


def consume_all(url, queue, count):
    with Connection(url) as reader:
        bound = queue(reader.default_channel)
        messages = []
        while len(messages) < count:
            message = bound.get(no_ack=True)
            assert message is not None, f"{len(messages)} of {count} messages in the queue"
            messages.append(message)
        return messages


def test_the_message_is_the_one_kombu_sends(broker, rabbitmq_url):
    connection, exchange, queue = broker
    payload = {"action": "push", "target": {"repository": "library/app", "tag": "v1"}}
    with Connection(rabbitmq_url, transport_options={"confirm_publish": True}) as other:
        Producer(other.default_channel, serializer="json").publish(
            payload, exchange=exchange, routing_key="manifest.push", delivery_mode=2,
            headers=HEADERS, retry=False)
    publisher = ConfirmedPublisher(connection.channel(), exchange.name, timeout=5.0)
    publisher.publish("manifest.push", payload, dict(HEADERS))
    by_kombu, ours = consume_all(rabbitmq_url, queue, 2)
    assert (ours.content_type, ours.content_encoding, ours.headers) == (
        by_kombu.content_type, by_kombu.content_encoding, by_kombu.headers)
    assert ours.properties == by_kombu.properties  # delivery_mode 2 and priority 0 among them
    assert ours.properties["delivery_mode"] == 2
    assert ours.delivery_info["routing_key"] == "manifest.push"
    assert json.loads(ours.body) == json.loads(by_kombu.body) == payload


def test_publishes_one_after_another_and_a_body_larger_than_a_frame(broker, rabbitmq_url):
    connection, exchange, queue = broker
    publisher = ConfirmedPublisher(connection.channel(), exchange.name, timeout=5.0)
    large = {"references": ["sha256:" + f"{i:064x}" for i in range(4000)]}  # ~300 KiB
    assert len(json.dumps(large)) > connection.connection.frame_max
    for i in range(20):
        publisher.publish("manifest.push", {"n": i}, dict(HEADERS))
    publisher.publish("manifest.push", large, dict(HEADERS))
    messages = consume_all(rabbitmq_url, queue, 21)
    assert [json.loads(m.body) for m in messages] == [{"n": i} for i in range(20)] + [large]


def test_a_nack_is_an_error(broker, rabbitmq_url):
    connection, exchange, _ = broker
    full = Queue(f"{exchange.name}-full", exchange, routing_key="refused.#", durable=False,
                 queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    full(connection.default_channel).declare()
    try:
        publisher = ConfirmedPublisher(connection.channel(), exchange.name, timeout=5.0)
        with pytest.raises(MessageNacked):
            publisher.publish("refused.push", {"n": 1}, dict(HEADERS))
        publisher.publish("manifest.push", {"n": 2}, dict(HEADERS))  # the next one is confirmed
    finally:
        with Connection(rabbitmq_url) as cleanup:
            full(cleanup.default_channel).delete()


def test_a_missing_exchange_is_the_brokers_error(broker):
    connection, exchange, _ = broker
    publisher = ConfirmedPublisher(connection.channel(), f"{exchange.name}-missing", timeout=5.0)
    with pytest.raises(NotFound):
        publisher.publish("manifest.push", {"n": 1}, dict(HEADERS))
