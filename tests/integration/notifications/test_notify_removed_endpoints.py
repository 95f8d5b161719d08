"""An endpoint removed from the config stops collecting events: notifiers keep a record of the
endpoints they have configured on the broker, and unbind the queue of one that no notifier has
had for ``REMOVED_AFTER`` (what it holds stays, for ``registry queues delete``). An endpoint
removed more recently is left alone: a notifier on the old config may still be delivering to
it. On RabbitMQ, Redis and the embedded broker."""

from __future__ import annotations

import time

import pytest
from kombu import Producer

from shared.broker import (
    Topology,
    connect,
    dead_queue_name,
    endpoint_queue_name,
    endpoint_record,
    topology_for,
)
from tests.integration.notifications.support import Deployment, endpoint, make_event
from tests.integration.notifications.test_notify_queues import NOWHERE, park, sizes
from tests.integration.notifications.test_notify_quorum import broker_queues

pytestmark = pytest.mark.integration


def stamp(d: Deployment, names: list[str], age: float) -> dict[str, float]:
    """What a notifier with ``names`` configured left in the record ``age`` seconds ago."""
    config = d.config
    with connect(config) as connection:
        return endpoint_record.stamp(connection, topology_for(config), names,
                                     now=time.time() - age)


def _removed_endpoint_stops_collecting(broker_url, receivers, deployments, notifiers, uid):
    on = receivers()
    keep, gone, recent = f"keep-{uid}", f"gone-{uid}", f"recent-{uid}"
    d = deployments(broker_url, [endpoint(keep, on.url), endpoint(gone, NOWHERE),
                                 endpoint(recent, NOWHERE)])
    d.publish(*(make_event() for _ in range(2)))  # no notifier yet: every queue holds them
    park(d, gone, dead=1)  # an event it gave up on, before it was removed
    # Notifiers had all three; the last one with `gone` stopped long ago, with `recent` a
    # minute ago (a rolling update still under way).
    stamp(d, [keep, gone, recent], age=endpoint_record.REMOVED_AFTER + 100)
    stamp(d, [keep, recent], age=60)

    d.reconfigure([endpoint(keep, on.url)])
    process = notifiers(d)
    process.wait_log(f"WARNING endpoint no longer configured, queue unbound endpoint={gone} "
                     f"queued=2 fix=\"registry queues CONFIG delete --endpoint {gone} --yes\"")
    on.wait_for(2)
    d.publish(*(make_event() for _ in range(3)))
    on.wait_for(5)  # published and routed: a bound queue would have them by now
    assert sizes(d, endpoint_queue_name(gone), endpoint_queue_name(recent)) == [2, 5]
    assert f"endpoint={recent}" not in process.log()

    # `registry queues list` shows the removed endpoints the record knows, beside the config's.
    listed = d.cli("queues", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        f"endpoint={keep} state=enabled queued=0 retrying=0 dead=0",
        f"endpoint={gone} state=not-configured queued=2 retrying=0 dead=1",
        f"endpoint={recent} state=not-configured queued=5 retrying=0 dead=0",
    ]

    # What it gave up on can still be listed (it stays parked), not replayed: no url for it.
    listed = d.cli("deadletter", "list", "--endpoint", gone)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == '{"n":1}\n'
    refused = d.cli("deadletter", "replay", "--endpoint", gone)
    assert refused.returncode == 2
    assert f"no endpoint named '{gone}' in the configuration" in refused.stderr
    assert sizes(d, dead_queue_name(gone)) == [1]

    # Deleted as the line says: the record forgets it; `recent` stays in it, `keep` is fresh.
    deleted = d.cli("queues", "delete", "--endpoint", gone, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    record = stamp(d, [keep], age=0)
    assert sorted(record) == [keep, recent]
    assert time.time() - record[keep] < 5


def test_removed_endpoint_stops_collecting_rabbitmq(rabbitmq_url, receivers, deployments,
                                                    notifiers, uid):
    _removed_endpoint_stops_collecting(rabbitmq_url, receivers, deployments, notifiers, uid)


def test_removed_endpoint_stops_collecting_redis(redis_url, receivers, deployments, notifiers,
                                                 uid):
    _removed_endpoint_stops_collecting(redis_url, receivers, deployments, notifiers, uid)


def test_removed_endpoint_stops_collecting_embedded(receivers, deployments, notifiers, uid):
    _removed_endpoint_stops_collecting(None, receivers, deployments, notifiers, uid)


def test_records_left_by_notifiers_at_once_are_merged(rabbitmq_url, deployments, uid):
    a, b = f"a-{uid}", f"b-{uid}"
    d = deployments(rabbitmq_url, [endpoint(a, NOWHERE), endpoint(b, NOWHERE)])
    d.publish(make_event())  # declares both endpoints' queues
    config = d.config
    topology = topology_for(config)
    queue = endpoint_record.record_queue(topology)
    with connect(config) as connection:
        queue(connection.default_channel).declare()
        producer = Producer(connection.default_channel, serializer="json")
        for record in ({a: 100.0, b: 300.0}, {a: 200.0}, ["not", "a", "record"]):
            producer.publish(record, exchange="", routing_key=queue.name, delivery_mode=2)
        merged = endpoint_record.stamp(connection, topology, [], now=1000.0)
        assert merged == {a: 200.0, b: 300.0}
        _, count, _ = connection.default_channel.queue_declare(queue=queue.name, passive=True)
        assert count == 1  # one map left for the next notifier


def test_with_quorum_queues_the_record_is_a_quorum_queue_that_takes_over_a_classic_one(
        rabbitmq_url, typed, uid):
    """An install made before the record followed ``queuetype`` has a classic record under the
    plain name (a queue's type cannot change): a notifier on quorum queues keeps its record in a
    quorum queue of its own name, takes the stamps of the classic one and removes it."""
    kept, old = f"kept-{uid}", f"old-{uid}"
    d = typed(rabbitmq_url, [endpoint(kept, NOWHERE), endpoint(old, NOWHERE)])
    d.publish(make_event())  # declares both endpoints' queues, quorum queues
    quorum = topology_for(d.config)
    classic = Topology(quorum.exchange_name, amqp=True, queue_type="classic")
    with connect(d.config) as connection:
        # What a notifier of the earlier release left: a classic record.
        endpoint_record.stamp(connection, classic, [kept, old], now=500.0)
        merged = endpoint_record.stamp(connection, quorum, [kept], now=1000.0)
        assert merged == {kept: 1000.0, old: 500.0}
        quorum_name, classic_name = endpoint_record.record_names(quorum)
        assert classic_name == endpoint_record.record_queue(classic).name
        assert quorum.queue_size(connection, classic_name) is None  # taken over, removed
        assert quorum.queue_size(connection, quorum_name) == 1
    (found,) = broker_queues(quorum_name).values()
    assert found["type"] == "quorum"
