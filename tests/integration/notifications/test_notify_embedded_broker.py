"""The embedded broker (kombu's filesystem transport, hardened): concurrent declares keep every
binding, and publishes racing them never read a half-written table."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

from shared.broker import connect, endpoint_queue_name, queue_depth, topology_for
from shared.config import parse_config
from tests.integration.notifications.support import endpoint, make_event, wait_until


def _config(root, names):
    return parse_config({
        "storage": {"filesystem": {"rootdirectory": str(root)}},
        "notifications": {"endpoints": [{"name": n, "url": "http://127.0.0.1:9/"} for n in names]},
    })


def _declare_and_publish(root, name, errors):
    try:
        config = _config(root, [name])
        topology = topology_for(config)
        with connect(config) as connection:
            for _ in range(5):
                topology.declare(connection, config.notifications.endpoints)
                producer = connection.Producer(serializer="json")
                producer.publish({"n": 1}, exchange=topology.exchange, routing_key="blob.push",
                                 delivery_mode=2)
    except Exception as exc:  # reported to the test, which fails on any
        errors.put(f"{name}: {type(exc).__name__}: {exc}")


def test_concurrent_declares_keep_every_binding(tmp_path):
    names = [f"ep{i}" for i in range(8)]
    errors = multiprocessing.get_context("fork").Queue()
    procs = [multiprocessing.get_context("fork").Process(
        target=_declare_and_publish, args=(tmp_path, n, errors)) for n in names]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert errors.empty(), errors.get()
    config = _config(tmp_path, names)
    with connect(config) as connection:
        channel = connection.default_channel
        bound = {q.queue for q in channel.get_table(config.notifications.broker.exchange)}
        assert {endpoint_queue_name(n) for n in names} <= bound
        topology = topology_for(config)
        producer = connection.Producer(serializer="json")
        topology.declare(connection, config.notifications.endpoints)
        producer.publish({"n": 2}, exchange=topology.exchange, routing_key="manifest.push")
        for n in names:  # the last publish reached every endpoint's queue
            assert queue_depth(connection, topology.endpoint_queue(n)) >= 1


def test_queue_names_become_folders_and_messages_survive_a_new_connection(tmp_path):
    config = _config(tmp_path, ["a"])
    topology = topology_for(config)
    with connect(config) as connection:
        topology.declare(connection, config.notifications.endpoints)
        connection.Producer(serializer="json").publish(
            {"n": 1}, exchange=topology.exchange, routing_key="manifest.push", delivery_mode=2)
    data = tmp_path / "_notifications" / "broker" / "data"
    assert [p.name for p in data.iterdir()] == [endpoint_queue_name("a")]
    with connect(config) as connection:
        message = topology.endpoint_queue("a")(connection.default_channel).get(no_ack=False)
        assert message.payload == {"n": 1}
        message.ack()
        assert queue_depth(connection, topology.endpoint_queue("a")) == 0
    assert list((tmp_path / "_notifications" / "broker" / "processed").iterdir()) == []


def test_every_claim_is_released_after_delivery_and_a_restart_delivers_nothing_twice(
        receivers, deployments, notifiers, uid):
    """Every event goes to two endpoints, so each of its queue copies is claimed and acked by
    a consumer of the same notifier. Once all are delivered, no claim may remain in
    ``processed/`` (a leftover claim is put back by ``recover_claimed`` when the notifier
    restarts: the event is delivered a second time)."""
    hooks = [receivers(), receivers()]
    d = deployments(None, [endpoint(f"claims{i}-{uid}", h.url, concurrency=4)
                           for i, h in enumerate(hooks)])
    events = [make_event(repository=f"claims/{i}") for i in range(40)]
    d.publish(*events)  # a backlog: both endpoints' consumers take the same events at once
    ids = {e.id for e in events}
    notifier = notifiers(d, "first")
    for hook in hooks:
        wait_until(lambda h=hook: set(h.ids()) >= ids, 20, "every event at every endpoint")
    processed = d.workdir / "root" / "_notifications" / "broker" / "processed"
    deadline = time.monotonic() + 5  # the last acks may trail the last deliveries a little
    while list(processed.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in processed.iterdir()) == [], "claims left after delivery"
    notifier.stop()
    notifiers(d, "second")
    time.sleep(1.5)  # the new notifier's first recover_claimed pass, and its deliveries
    for hook in hooks:
        twice = [i for i, n in Counter(hook.ids()).items() if n > 1]
        assert not twice, f"delivered twice after a restart: {twice}"
