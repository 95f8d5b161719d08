"""On Redis, two notifiers' retry movers race for the head of one retry queue. A mover must never
end up holding a retry that is not due: held past the visibility timeout, Redis would restore it
to the retry queue while the mover still moves it on when due, and it would be delivered twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import redis
from kombu import Producer

from services.notifier.mover import RetryMover
from shared.broker import HEADER_DUE, connect, endpoint_queue_name, retry_queue_name, topology_for
from tests.integration.notifications.support import (
    endpoint,
    make_event,
    redis_event_id,
    unacked_event_ids,
)

pytestmark = pytest.mark.integration

NOWHERE = "http://127.0.0.1:9/hook"


def queued_ids(client: redis.Redis, queue: str) -> list[str | None]:
    return [redis_event_id(json.loads(raw)) for raw in client.lrange(queue, 0, -1)]


def act_after_first_look(channel, queue: str, action: Callable[[], None]) -> None:
    """Run ``action`` right after the first Redis command of ``channel`` naming ``queue``
    (whatever reads or takes its head): another mover acts in the worst moment there is."""
    done: list[bool] = []

    class Racing(channel.Client):
        def execute_command(self, *args, **options):
            result = super().execute_command(*args, **options)
            if not done and queue in args:
                done.append(True)
                action()
            return result

    channel.Client = Racing


def test_a_mover_racing_another_never_holds_a_retry_that_is_not_due(redis_url, deployments, uid):
    name = f"fix-race-{uid}"
    d = deployments(redis_url, [endpoint(name, NOWHERE, backoff="100ms", maxbackoff="100ms")])
    config = d.config
    topology = topology_for(config)
    ep = config.notifications.endpoints[0]
    queue = retry_queue_name(name, 0.1)
    due, later = make_event(), make_event()
    client = redis.Redis.from_url(redis_url)
    with connect(config) as one, connect(config) as two:
        topology.declare(one, [ep])
        producer = Producer(one.channel(), serializer="json")
        for event, when in ((due, time.time() - 1), (later, time.time() + 600)):
            producer.publish(event.to_dict(), exchange=topology.delay_exchange,
                             routing_key=topology.retry_routing_key(name, 0.1),
                             headers={HEADER_DUE: when}, delivery_mode=2)
        first = RetryMover(one, topology, ep)
        second = RetryMover(two, topology, ep)
        act_after_first_look(second.channel, queue, lambda: first.tick(producer))
        second.tick(Producer(two.channel(), serializer="json"))

        # The due retry went back to the endpoint's queue once; the other waits in its retry
        # queue, held by no mover, not recorded as unacknowledged.
        assert queued_ids(client, endpoint_queue_name(name)) == [due.id]
        assert queued_ids(client, queue) == [later.id]
        assert later.id not in unacked_event_ids(client)
        first.release()
        second.release()
