"""An unacknowledged event comes back to the queue it was taken from, and only there.

kombu restores an unacknowledged message (Redis: after the visibility timeout, or when its
channel closes; the embedded broker: when its channel closes) by routing it again with the
exchange and routing key it was published with. An event was published to the topic exchange,
which binds every endpoint's queue: a restore used to copy it into every endpoint's queue, and
endpoints that already had it received it again. On Redis every endpoint's copy also had the same
delivery tag, which keys the unacknowledged records: one endpoint's ack deleted the record of a
copy another endpoint still held, and a notifier killed then lost that copy."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from kombu import Consumer

from shared.broker import connect, queue_depth, topology_for
from tests.integration.notifications.support import endpoint, make_event, wait_until

pytestmark = pytest.mark.integration

NOWHERE = "http://127.0.0.1:9/hook"


@pytest.mark.parametrize("take", ["consume", "get"])
@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_an_event_closed_unacknowledged_returns_to_its_own_queue_only(
        broker, take, request, deployments, uid):
    url = request.getfixturevalue("redis_url") if broker == "redis" else None
    names = [f"fix-own-{uid}", f"fix-other-{uid}"]
    d = deployments(url, [endpoint(n, NOWHERE) for n in names])
    config = d.config
    topology = topology_for(config)
    own, other = (topology.endpoint_queue(n) for n in names)
    event = make_event()
    d.publish(event)

    with connect(config) as connection:
        assert [queue_depth(connection, q) for q in (own, other)] == [1, 1]
    with connect(config) as connection:  # taken from one queue, closed without an ack
        taken = []
        if take == "consume":
            with Consumer(connection, queues=[own], accept=["json"],
                          callbacks=[lambda _body, message: taken.append(message)]):
                connection.drain_events(timeout=5)
        else:
            taken.append(own(connection.default_channel).get(no_ack=False, accept=["json"]))
        assert taken[0].payload["id"] == event.id
    with connect(config) as connection:
        assert [queue_depth(connection, q) for q in (own, other)] == [1, 1]


def test_a_killed_notifiers_unacked_events_come_back_only_to_their_endpoint(
        redis_url, receivers, deployments, notifiers, uid):
    healthy = receivers()
    hanging = receivers(delay=30)  # answers long after the endpoint's timeout
    d = deployments(redis_url, [
        endpoint(f"fix-healthy-{uid}", healthy.url, timeout="2s"),
        # backoff 60s: a failed attempt waits in a retry queue for the rest of the test
        endpoint(f"fix-hanging-{uid}", hanging.url, timeout="2s", concurrency=2,
                 backoff="60s"),
    ])
    doomed = notifiers(d, "doomed")
    events = [make_event(repository=f"restore/{i}") for i in range(2)]
    d.publish(*events)
    ids = {e.id for e in events}
    hanging.wait_for(2)  # both attempts in flight, unacknowledged, for up to 2 s
    healthy.wait_for(2)
    wait_until(lambda: doomed.log().count(f"notification sent endpoint=fix-healthy-{uid}") == 2,
               5, "the healthy endpoint's deliveries")
    time.sleep(0.3)  # and their acks (a delivery killed before its ack comes again, rightly)
    doomed.signal(signal.SIGKILL)
    doomed.proc.wait(5)

    # The visibility timeout (3 x 2 s + 10 s) passes, the next notifier restores them.
    notifiers(d, "next")
    wait_until(lambda: all(n >= 2 for n in Counter(hanging.ids()).values()), 40,
               "the hanging endpoint's events again")
    time.sleep(1)  # a copy restored into the healthy endpoint's queue would arrive by now
    assert Counter(healthy.ids()) == {i: 1 for i in ids}
