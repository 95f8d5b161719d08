"""The embedded broker (kombu's filesystem transport, hardened): concurrent declares keep every
binding, and publishes racing them never read a half-written table."""

from __future__ import annotations

import multiprocessing

from shared.broker import connect, endpoint_queue_name, queue_depth, topology_for
from shared.config import parse_config


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
