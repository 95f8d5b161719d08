"""A three-node RabbitMQ cluster (private nodes, never the machine's) with quorum queues loses
the node that the registry and the notifiers are connected to, by SIGKILL, in the middle of a
burst of pushes through a real ``registry serve``: every push answered 201 reaches the webhook
receiver, pushes keep working, the notifiers resume on a surviving node, and the notifiers'
record of endpoints stays readable without error lines."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kombu import Connection

from services.registry.events.spool import Spool
from shared.broker import endpoint_record, topology_for
from tests.integration.notifications.support import (
    endpoint,
    free_port,
    push_image,
    start_serve,
    wait_until,
)

pytestmark = pytest.mark.integration

IMAGES = 80  # three pushes each (config blob, layer blob, manifest): 240 answered 201
KILLED_AFTER = 20  # images pushed before the node goes
PUSHERS = 4
# Seconds one push (five requests, three events) may take: a publish that fails costs at most
# about 1 s per node tried plus 1 s (README), and only the first ones after the loss pay it.
PUSH_BOUND = 10.0


def _connections_by_node(cluster) -> dict[str, int]:
    """How many client connections each node of the cluster holds."""
    # "port": the node's AMQP port the client connected to (each node has its own)
    listed = cluster.nodes[1].ctl("list_connections", "-q", "--no-table-headers", "port")
    assert listed.returncode == 0, listed.stderr
    ports = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
    return {node.node: ports.count(str(node.port)) for node in cluster.nodes}


def test_cluster_losing_a_node_mid_burst_loses_no_pushed_event(
        rabbit_cluster, receivers, typed, notifiers, uid):
    hook = receivers()
    name = f"cluster-{uid}"
    first, *survivors = rabbit_cluster.nodes
    # The notifiers read the nodes from the config file, a YAML list; the registry from the
    # environment, in kombu's failover form. The node to be killed comes first in both.
    d = typed(rabbit_cluster.urls, [endpoint(name, hook.url)], queuetype="quorum")
    notifier_a = notifiers(d, "notifier-a")
    notifier_b = notifiers(d, "notifier-b", debug_port=free_port())
    serve, base = start_serve(d, env={
        "REGISTRY_NOTIFICATIONS_BROKER_URL": ";".join(rabbit_cluster.urls)})
    try:
        pushed: dict[str, str] = {}  # digest -> repository: every push answered 201
        took: list[float] = []

        def push(i: int) -> None:
            started = time.monotonic()
            repository = f"burst/app{i % 5}"
            manifest, blobs = push_image(base, repository, f"v{i}")  # asserts each 201
            took.append(time.monotonic() - started)
            for digest in (manifest, *blobs):
                pushed[digest] = repository

        push(0)  # the registry's publisher is connected now
        # Two notifiers and the registry: all on the first node, the one to be killed.
        held = _connections_by_node(rabbit_cluster)
        assert held[first.node] >= 3 and sum(held.values()) == held[first.node], held

        with ThreadPoolExecutor(PUSHERS) as pool:
            futures = [pool.submit(push, i) for i in range(1, IMAGES)]
            wait_until(lambda: len(took) >= KILLED_AFTER, 60, "the first pushes of the burst")
            first.kill()
            for future in futures:
                future.result()  # a failed push fails the test here
        assert len(pushed) == 3 * IMAGES
        assert max(took) < PUSH_BOUND, sorted(took)[-5:]

        def missing() -> set[str]:
            seen = {(e["target"]["repository"], e["target"]["digest"]) for e in hook.events()
                    if e["action"] == "push"}
            return {digest for digest, repo in pushed.items() if (repo, digest) not in seen}

        try:
            wait_until(lambda: not missing(), 60, "an event for every push answered 201")
        except AssertionError:
            spooled = len(Spool(d.config.spool_directory()).entries())
            raise AssertionError(f"{len(missing())} of {len(pushed)} pushes answered 201 have "
                                 f"no event ({spooled} events still in the registry's spool)"
                                 ) from None

        # The registry reached a surviving node: nothing is left waiting in its spool, and
        # a push now goes straight through.
        spool = Spool(d.config.spool_directory())
        wait_until(lambda: not spool.pending(), 20, "the registry's spool to be flushed")
        after, _ = push_image(base, "burst/after", "latest")
        wait_until(lambda: after in {e["target"]["digest"] for e in hook.events()}, 20,
                   "the event of a push after the burst")
        assert not spool.pending()
    finally:
        serve.stop()

    # Each notifier lost its connection and consumes again, from a surviving node.
    for notifier in (notifier_a, notifier_b):
        log = notifier.log()
        assert "broker connection lost, reconnecting" in log, log[-3000:]
        assert log.count(f"consuming endpoint={name} ") >= 2, log[-3000:]

    # A notifier started now stamps the record of endpoints on the surviving nodes, where the
    # others' next check (every minute) finds it too: no error line, the endpoint stamped.
    started = time.time()
    notifier_c = notifiers(d, "notifier-c", debug_port=free_port())
    topology = topology_for(d.config)
    with Connection(survivors[0].url) as connection:
        def stamped() -> bool:
            assert "removed endpoints not checked" not in notifier_c.log(), notifier_c.log()
            record = endpoint_record.stamp(connection, topology, [])  # reads, stamps nothing
            return record.get(name, 0) >= started - 1

        wait_until(stamped, 20, "the record of endpoints stamped on a surviving node")
    for process in (notifier_a, notifier_b, notifier_c):
        problems = [line for line in process.log().splitlines()
                    if " ERROR " in line or "removed endpoints not checked" in line]
        assert not problems, problems
        # Its start line names every node, none with its password.
        assert "broker=" + ",".join(u.replace("guest@", "**@") for u in rabbit_cluster.urls) \
            in process.log()
    for process in (serve, notifier_a, notifier_b, notifier_c):
        assert "guest:guest" not in process.log()
