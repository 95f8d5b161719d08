"""A quorum queue's delivery limit must not cost an event.

RabbitMQ drops a quorum queue's message once it has come back to the queue more often than the
queue's delivery limit: 20 by default since RabbitMQ 4.0, whatever an operator's policy sets
before that. Messages come back when a notifier stops or dies holding them, and when
``deadletter list`` reads a parked event (it must leave it parked). The machine's RabbitMQ is
3.10, which has no default limit but honours the ``delivery-limit`` policy key: these tests give
their queues a limit of 1 (a message may come back once; the second time it is gone), so the
4.x default is reached in two returns instead of twenty-one.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator

import pytest
from kombu import Connection, Producer

from shared.broker import (
    HEADER_ATTEMPTS,
    HEADER_DELIVERY_COUNT,
    HEADER_ERROR,
    HEADER_ROUTING_KEY,
    QUEUE_PREFIX,
    endpoint_queue_name,
    topology_for,
)
from tests.conftest import require_tool
from tests.integration.notifications.support import endpoint, make_event, parked, wait_until

pytestmark = pytest.mark.integration

LIMIT = 1


def rabbitmqctl(*args: str) -> None:
    # stdin: rabbitmqctl reads it, and would eat a caller's (a shell loop's) input
    subprocess.run([require_tool("rabbitmqctl"), *args], stdin=subprocess.DEVNULL,
                   capture_output=True, text=True, timeout=60, check=True)


@pytest.fixture
def delivery_limit(rabbitmq_url: str, uid: str) -> Iterator[None]:
    """A policy giving every queue whose name holds this test's uid a delivery limit of 1."""
    policy = f"test-delivery-limit-{uid}"
    pattern = f"^{re.escape(QUEUE_PREFIX)}.*{uid}"
    rabbitmqctl("set_policy", "--apply-to", "queues", policy, pattern,
                json.dumps({"delivery-limit": LIMIT}))
    yield
    rabbitmqctl("clear_policy", policy)


def ready(rabbitmq_url: str, queue: str) -> int:
    with Connection(rabbitmq_url) as conn:
        _, count, _ = conn.channel().queue_declare(queue=queue, passive=True)
    return count


def test_the_policy_drops_a_message_at_its_second_return(rabbitmq_url, typed, uid,
                                                         delivery_limit):
    # What the other tests guard against, shown on a bare queue: nothing of ours involved.
    name = f"dlbare-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, "http://127.0.0.1:9/")])
    d.publish(make_event())
    with Connection(rabbitmq_url) as conn:
        queue = topology_for(d.config).endpoint_queue(name)(conn.channel())
        for returns in range(LIMIT + 1):
            message = wait_until(lambda: queue.get(no_ack=False), 5, "the message")
            assert message.headers[HEADER_DELIVERY_COUNT] == returns
            message.reject(requeue=True)
    assert ready(rabbitmq_url, endpoint_queue_name(name)) == 0


def test_a_message_returned_by_a_killed_notifier_outlives_the_delivery_limit(
        rabbitmq_url, receivers, typed, notifiers, uid, delivery_limit):
    stuck = receivers(delay=30)  # holds each POST: the notifier is killed while it waits
    name = f"dlret-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, stuck.url, timeout="60s")])
    event = make_event()
    d.publish(event)
    # A notifier stopped holding it once already: the message is at the limit.
    with Connection(rabbitmq_url) as conn:
        queue = topology_for(d.config).endpoint_queue(name)(conn.channel())
        message = wait_until(lambda: queue.get(no_ack=False), 5, "the message")
        message.reject(requeue=True)

    first = notifiers(d, name="notifier-killed")
    (held,) = stuck.wait_for(1)
    assert held.json == event.to_dict()
    first.signal(signal.SIGKILL)
    first.proc.wait(10)
    # The copy in hand came back for the first time. Had the notifier worked on the returned
    # message itself, this was that message's second return, and the broker dropped it.
    wait_until(lambda: ready(rabbitmq_url, endpoint_queue_name(name)) == 1, 10,
               "the event back in its queue")
    assert f"returned message requeued afresh endpoint={name} id={event.id} returns=1" \
        in first.log()

    hook = receivers()
    d.reconfigure([endpoint(name, hook.url)])
    second = notifiers(d, name="notifier-delivers")
    (request,) = hook.wait_for(1)
    assert request.json == event.to_dict()
    second.wait_log(f"notification sent endpoint={name} ")
    assert ready(rabbitmq_url, endpoint_queue_name(name)) == 0


def test_listing_dead_letters_again_and_again_leaves_every_one_parked_in_order(
        rabbitmq_url, typed, uid, delivery_limit):
    name = f"dllist-{uid}"
    d = typed(rabbitmq_url, [endpoint(name, "http://127.0.0.1:9/")])
    events = [make_event(tag=f"t{i}") for i in range(3)]
    topology = topology_for(d.config)
    with Connection(rabbitmq_url, transport_options={"confirm_publish": True}) as conn:
        topology.declare(conn, d.config.notifications.endpoints)
        producer = Producer(conn.channel(), serializer="json")
        for event in events:
            producer.publish(event.to_dict(), exchange=topology.dead_exchange, routing_key=name,
                             headers={HEADER_ROUTING_KEY: event.routing_key, HEADER_ATTEMPTS: 3,
                                      HEADER_ERROR: "HTTP 500"}, delivery_mode=2)
    expected = [json.dumps(e.to_dict(), separators=(",", ":")) for e in events]

    for _ in range(LIMIT + 3):
        listed = d.cli("deadletter", "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == expected
    assert parked(d, name) == len(events)

    # Parked again with what the dead-letter queue says about them.
    with Connection(rabbitmq_url) as conn:
        dead = topology.dead_queue(name)(conn.channel())
        message = dead.get(no_ack=False)
        assert message.headers[HEADER_ATTEMPTS] == 3
        assert message.headers[HEADER_ERROR] == "HTTP 500"
        assert message.headers[HEADER_DELIVERY_COUNT] == 0
        message.reject(requeue=True)
