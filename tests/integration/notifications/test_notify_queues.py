"""Disabled and removed endpoints: a disabled endpoint's queue stops collecting events when a
notifier starts (and keeps what it held), and ``registry queues list|delete`` counts and removes
what a disabled or removed endpoint left on the broker; on RabbitMQ, Redis and the embedded broker."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.notifier.queues import endpoint_queues
from shared.broker import connect, endpoint_queue_name, topology_for
from tests.integration.notifications.support import Deployment, endpoint, make_event

pytestmark = pytest.mark.integration

NOWHERE = "http://127.0.0.1:9/"  # never called: no notifier consumes these endpoints


def sizes(d: Deployment, *queues: str) -> list[int | None]:
    """Messages in each queue, None for one that does not exist (looking creates nothing)."""
    config = d.config
    topology = topology_for(config)
    with connect(config) as connection:
        return [topology.queue_size(connection, q) for q in queues]


def park(d: Deployment, name: str, retries: Sequence[float] = (), dead: int = 0) -> None:
    """Put messages in ``name``'s retry queues (one per delay given) and dead-letter queue, as
    a notifier does after failed attempts."""
    config = d.config
    topology = topology_for(config)
    with connect(config) as connection:
        producer = connection.Producer(serializer="json")
        for delay in retries:
            producer.publish({"n": 1}, exchange=topology.delay_exchange,
                             routing_key=topology.retry_routing_key(name, delay), delivery_mode=2)
        for _ in range(dead):
            producer.publish({"n": 1}, exchange=topology.dead_exchange, routing_key=name,
                             delivery_mode=2)


# ---------------------------------------------------------------- disabled: unbound at start


def _disabled_endpoint_stops_collecting(broker_url, receivers, deployments, notifiers, uid):
    on, off = receivers(), receivers()
    keep, stop, never = f"keep-{uid}", f"stop-{uid}", f"never-{uid}"
    d = deployments(broker_url, [endpoint(keep, on.url), endpoint(stop, off.url)])
    early = [make_event() for _ in range(2)]
    d.publish(*early)  # no notifier yet: both queues hold them
    assert sizes(d, endpoint_queue_name(stop)) == [2]

    d.reconfigure([endpoint(keep, on.url), endpoint(stop, off.url, disabled=True),
                   endpoint(never, off.url, disabled=True)])
    process = notifiers(d)
    process.wait_log(f"endpoint disabled, queue unbound endpoint={stop} queued=2")
    on.wait_for(2)
    d.publish(*(make_event() for _ in range(3)))
    on.wait_for(5)  # published and routed: the disabled queue would have them by now
    assert sizes(d, endpoint_queue_name(stop)) == [2]  # the two from before, none since
    assert off.requests == []
    # A disabled endpoint that never had a queue gets none (no line for it either).
    assert sizes(d, endpoint_queue_name(never)) == [None]
    assert f"queue unbound endpoint={never}" not in process.log()

    # Enabled again: the declare binds it again, and what it kept is delivered.
    process.stop()
    d.reconfigure([endpoint(keep, on.url), endpoint(stop, off.url)])
    notifiers(d, name="notifier-again")
    assert sorted(r.json["id"] for r in off.wait_for(2)) == sorted(e.id for e in early)
    d.publish(make_event())
    off.wait_for(3)


def test_disabled_endpoint_stops_collecting_rabbitmq(rabbitmq_url, receivers, deployments,
                                                     notifiers, uid):
    _disabled_endpoint_stops_collecting(rabbitmq_url, receivers, deployments, notifiers, uid)


def test_disabled_endpoint_stops_collecting_redis(redis_url, receivers, deployments, notifiers,
                                                  uid):
    _disabled_endpoint_stops_collecting(redis_url, receivers, deployments, notifiers, uid)


def test_disabled_endpoint_stops_collecting_embedded(receivers, deployments, notifiers, uid):
    _disabled_endpoint_stops_collecting(None, receivers, deployments, notifiers, uid)


# ---------------------------------------------------------------- registry queues list


def test_queues_list_counts_queued_retrying_and_dead_and_creates_nothing(rabbitmq_url,
                                                                         deployments, uid):
    busy, off, gone = f"busy-{uid}", f"off-{uid}", f"gone-{uid}"
    # Long retry waits: the parked retries stay put while the test looks at them.
    d = deployments(rabbitmq_url, [endpoint(busy, NOWHERE, backoff="60s", maxbackoff="120s"),
                                   endpoint(off, NOWHERE, disabled=True)])
    d.publish(*(make_event() for _ in range(3)))
    park(d, busy, retries=[60, 60, 120], dead=1)

    listed = d.cli("queues", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        f"endpoint={busy} state=enabled queued=3 retrying=3 dead=1",
        f"endpoint={off} state=disabled queued=0 retrying=0 dead=0",
    ]
    one = d.cli("queues", "list", "--endpoint", gone)  # a name not in the config
    assert one.returncode == 0, one.stderr
    assert one.stdout == f"endpoint={gone} state=not-configured queued=0 retrying=0 dead=0\n"
    for name in (off, gone):
        queues = endpoint_queues(d.config, name).all
        assert sizes(d, *queues) == [None] * len(queues), name


# ---------------------------------------------------------------- registry queues delete


def test_delete_a_removed_endpoints_queues_only_with_yes(rabbitmq_url, deployments, uid):
    stay, gone = f"stay-{uid}", f"gone-{uid}"
    # The default backoff: the removed endpoint's retry queues are where `queues` looks.
    d = deployments(rabbitmq_url, [endpoint(stay, NOWHERE), endpoint(gone, NOWHERE, backoff="1s")])
    d.publish(make_event(), make_event())
    park(d, gone, retries=[256], dead=1)
    d.reconfigure([endpoint(stay, NOWHERE)])
    d.publish(make_event())  # removed, still bound: its queue keeps collecting until deleted
    names = endpoint_queues(d.config, gone)
    main, dead, retry = names.main, names.dead, f"registry.notifications.{gone}.retry.256000ms"
    assert len(names.retries) == 10 and retry in names.retries

    dry = d.cli("queues", "delete", "--endpoint", gone)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert f"would delete queue={main} messages=3" in lines
    assert f"would delete queue={dead} messages=1" in lines
    assert f"would delete queue={retry} messages=1" in lines
    assert len([line for line in lines if line.startswith("would delete ")]) == 12
    assert "--yes" in lines[-1]
    assert sizes(d, main, dead, retry) == [3, 1, 1]  # nothing deleted

    done = d.cli("queues", "delete", "--endpoint", gone, "--yes")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"deleted queue={main} messages=3" in lines
    assert f"deleted queue={dead} messages=1" in lines
    assert f"deleted queue={retry} messages=1" in lines
    assert len(lines) == 12
    assert sizes(d, *names.all) == [None] * len(names.all)
    assert sizes(d, endpoint_queue_name(stay)) == [3]  # the configured endpoint's is untouched

    again = d.cli("queues", "list", "--endpoint", gone)
    assert again.stdout == f"endpoint={gone} state=not-configured queued=0 retrying=0 dead=0\n"


def test_delete_refused_for_an_enabled_endpoint(rabbitmq_url, deployments, uid):
    name = f"live-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, NOWHERE)])
    d.publish(make_event())
    refused = d.cli("queues", "delete", "--endpoint", name, "--yes")
    assert refused.returncode == 2
    assert "is enabled" in refused.stderr and "disabled: true" in refused.stderr
    assert refused.stdout == ""
    assert sizes(d, endpoint_queue_name(name)) == [1]


def _delete_a_disabled_endpoints_queues(broker_url, deployments, uid):
    """On Redis and the embedded broker a queue is a binding-table entry plus messages: both go."""
    keep, off = f"keep-{uid}", f"off-{uid}"
    d = deployments(broker_url, [endpoint(keep, NOWHERE), endpoint(off, NOWHERE)])
    d.publish(make_event(), make_event())
    park(d, off, retries=[0.1], dead=1)
    d.reconfigure([endpoint(keep, NOWHERE), endpoint(off, NOWHERE, disabled=True)])
    names = endpoint_queues(d.config, off)

    listed = d.cli("queues", "list", "--endpoint", off)
    assert listed.stdout == f"endpoint={off} state=disabled queued=2 retrying=1 dead=1\n"
    dry = d.cli("queues", "delete", "--endpoint", off)
    assert dry.returncode == 0, dry.stderr
    assert f"would delete queue={names.main} messages=2" in dry.stdout.splitlines()
    assert sizes(d, names.main, names.dead) == [2, 1]

    done = d.cli("queues", "delete", "--endpoint", off, "--yes")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"deleted queue={names.main} messages=2" in lines
    assert f"deleted queue={names.dead} messages=1" in lines
    assert sizes(d, *names.all) == [None] * len(names.all)
    # Unbound too: a new event reaches the enabled endpoint only.
    d.publish(make_event())
    assert sizes(d, names.main, endpoint_queue_name(keep)) == [None, 3]


def test_delete_a_disabled_endpoints_queues_redis(redis_url, deployments, uid):
    _delete_a_disabled_endpoints_queues(redis_url, deployments, uid)


def test_delete_a_disabled_endpoints_queues_embedded(deployments, uid):
    _delete_a_disabled_endpoints_queues(None, deployments, uid)
