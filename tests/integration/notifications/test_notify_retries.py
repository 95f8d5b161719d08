"""Failing endpoints: exactly ``threshold`` attempts with growing gaps, then dropped (log line,
counter), listed and replayed; Retry-After and 410; on RabbitMQ, Redis and the embedded broker."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.integration.notifications.support import endpoint, make_event, wait_until

pytestmark = pytest.mark.integration


def metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def failing_then_dead_lettered_then_replayed(broker_url, receivers, deployments, notifiers,
                                             name):
    """Exactly ``threshold`` attempts with growing gaps, dropped (logged, counted), listed and
    replayed; returns the deployment. The quorum queue tests run it too."""
    healthy = {"ok": False}
    hook = receivers(respond=lambda _r, _n: (200, {}) if healthy["ok"] else (500, {}))
    d = deployments(broker_url, [endpoint(name, hook.url, threshold=4, backoff="50ms")])
    process = notifiers(d)
    event = make_event()
    d.publish(event)

    attempts = hook.wait_for(4, timeout=15)
    process.wait_log(f"notification dropped endpoint={name} attempts=4")
    time.sleep(0.5)
    assert len(hook.requests) == 4  # exactly threshold attempts
    assert all(r.json["id"] == event.id for r in attempts)
    gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.04 * 0.8
    assert gaps[0] < gaps[1] < gaps[2], gaps  # backoff doubles (jitter never reverses it)
    log = process.log()
    for n in (1, 2, 3, 4):
        assert re.search(
            rf"WARNING notification failed endpoint={name} error=\"HTTP 500 Internal Server "
            rf"Error\" attempt={n}\b", log), log
    assert re.search(rf"ERROR notification dropped endpoint={name} attempts=4\b", log)

    metrics = wait_until(
        lambda: (m := d.metrics()) and metric(m, "registry_notifications_dropped_total",
                                              endpoint=name) == 1 and m, 5, "dropped metric")
    assert metric(metrics, "registry_notifications_failed_total", endpoint=name) == 4
    assert metric(metrics, "registry_notifications_events_total", type="Failures",
                  endpoint=name) == 4
    assert metric(metrics, "registry_notifications_status_total",
                  code="500 Internal Server Error", endpoint=name) == 4

    listed = d.cli("deadletter", "list", "--endpoint", name)
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert lines == [event.to_dict()]
    again = d.cli("deadletter", "list")  # listing leaves them parked
    assert [json.loads(line)["id"] for line in again.stdout.splitlines()] == [event.id]

    healthy["ok"] = True
    replayed = d.cli("deadletter", "replay", "--endpoint", name)
    assert replayed.returncode == 0, replayed.stderr
    assert f"endpoint={name} count=1" in replayed.stdout
    delivered = hook.wait_for(5, timeout=10)[-1]
    assert delivered.json == event.to_dict()
    process.wait_log(f"notification sent endpoint={name}")
    assert d.cli("deadletter", "list").stdout == ""
    return d


def test_failing_endpoint_rabbitmq(rabbitmq_url, receivers, deployments, notifiers, uid):
    failing_then_dead_lettered_then_replayed(rabbitmq_url, receivers, deployments, notifiers,
                                             f"fail-{uid}")


def test_failing_endpoint_redis(redis_url, receivers, deployments, notifiers, uid):
    failing_then_dead_lettered_then_replayed(redis_url, receivers, deployments, notifiers,
                                             f"fail-{uid}")


def test_failing_endpoint_embedded(receivers, deployments, notifiers, uid):
    failing_then_dead_lettered_then_replayed(None, receivers, deployments, notifiers,
                                             f"fail-{uid}")


def test_retry_after_is_honoured_and_410_drops_at_once(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    busy = receivers(respond=lambda _r, n: (503, {"Retry-After": "1"}) if n == 1 else (200, {}))
    # No backoff: retries at once, but not sooner than a Retry-After says.
    eager = receivers(respond=lambda _r, n: (429, {"Retry-After": "1"}) if n == 1 else (200, {}))
    gone = receivers(respond=lambda _r, _n: (410, {}))
    d = deployments(rabbitmq_url, [
        endpoint(f"busy-{uid}", busy.url, threshold=5, backoff="50ms"),
        endpoint(f"eager-{uid}", eager.url, threshold=5, backoff="0s"),
        endpoint(f"gone-{uid}", gone.url, threshold=5, backoff="50ms"),
    ])
    process = notifiers(d)
    d.publish(make_event())
    first, second = busy.wait_for(2, timeout=10)
    assert second.at - first.at >= 0.95  # not the 50 ms backoff
    first, second = eager.wait_for(2, timeout=10)
    assert second.at - first.at >= 0.95
    process.wait_log(f"notification dropped endpoint=gone-{uid} attempts=1")
    time.sleep(0.3)
    assert len(gone.requests) == 1


def test_a_message_that_is_not_an_event_is_parked_not_redelivered_forever(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    from kombu import Connection, Queue

    hook = receivers()
    name = f"poison-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, hook.url)])
    process = notifiers(d)
    with Connection(rabbitmq_url) as conn:
        conn.Producer().publish(b"\x00not json", exchange=d.exchange, routing_key="manifest.push",
                                content_type="application/octet-stream",
                                content_encoding="binary")
    event = make_event()
    d.publish(event)
    assert hook.wait_for(1)[0].json["id"] == event.id  # the queue is not stuck behind it
    process.wait_log(f"notification dropped: not an event endpoint={name}")
    with Connection(rabbitmq_url) as conn:
        # Read without declaring anything (a SimpleQueue would leave an exchange behind).
        parked = Queue(f"registry.notifications.{name}.dead", no_declare=True)(conn.default_channel)
        message = wait_until(lambda: parked.get(no_ack=False), 5, "the parked message")
        assert message.body == b"\x00not json"
        message.ack()


def test_a_message_with_a_broken_attempts_header_is_delivered_once_without_upsetting_others(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    from kombu import Connection

    hook = receivers()
    name = f"badheader-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, hook.url)])
    process = notifiers(d)
    foreign = make_event()
    with Connection(rabbitmq_url) as conn:
        conn.Producer(serializer="json").publish(
            foreign.to_dict(), exchange=d.exchange, routing_key="manifest.push",
            headers={"x-attempts": "two"})  # not a count: another publisher's header
    ours = [make_event() for _ in range(3)]
    d.publish(*ours)
    hook.wait_for(4)
    time.sleep(1.0)  # a reconnect would deliver them all again within this
    assert sorted(r.json["id"] for r in hook.snapshot()) == sorted(
        e.id for e in [foreign, *ours])
    assert "broker connection lost" not in process.log()


def test_dead_letters_that_are_not_events_stay_parked_and_do_not_stop_list_or_replay(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    from kombu import Connection

    healthy = {"ok": False}
    hook = receivers(respond=lambda _r, _n: (200, {}) if healthy["ok"] else (500, {}))
    name = f"deadpoison-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, hook.url, threshold=1)])
    process = notifiers(d)
    with Connection(rabbitmq_url) as conn:  # the notifier parks it as it came
        conn.Producer().publish(b"plain text", exchange=d.exchange, routing_key="manifest.push",
                                content_type="text/plain", content_encoding="utf-8")
    process.wait_log(f"notification dropped: not an event endpoint={name}")
    event = make_event()
    d.publish(event)
    process.wait_log(f"notification dropped endpoint={name} attempts=1")

    listed = d.cli("deadletter", "list", "--endpoint", name)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [event.id]
    assert f"dead letters kept: not events endpoint={name} count=1" in listed.stderr

    healthy["ok"] = True
    replayed = d.cli("deadletter", "replay", "--endpoint", name)
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed endpoint={name} count=1" in replayed.stdout
    assert f"dead letters kept: not events endpoint={name} count=1" in replayed.stdout
    assert hook.wait_for(2, timeout=10)[-1].json["id"] == event.id
    again = d.cli("deadletter", "list", "--endpoint", name)
    assert again.stdout == "" and "not events endpoint=" in again.stderr  # still parked


@pytest.mark.parametrize("broker", ["rabbitmq", "redis", "embedded"])
def test_dead_letters_are_listed_and_replayed_in_batches_in_order(
        broker, rabbitmq_url, redis_url, receivers, deployments, uid, monkeypatch):
    from kombu import Connection, Producer

    from shared.broker import connect, topology_for
    from shared.broker.kind import embedded_directory
    from shared.operations import deadletters

    monkeypatch.setattr(deadletters, "BATCH", 2)  # five dead letters: three batches
    hook = receivers()
    name = f"batches-{uid}"
    d = deployments({"rabbitmq": rabbitmq_url, "redis": redis_url}.get(broker),
                    [endpoint(name, hook.url)])
    config = d.config
    topology = topology_for(config)
    events = [make_event() for _ in range(5)]
    connection: Connection = connect(config, purpose="publish")
    with connection:
        topology.declare(connection, config.notifications.endpoints)
        producer = Producer(connection.channel(), serializer="json")
        for event in events:
            producer.publish(event.to_dict(), exchange=topology.dead_exchange, routing_key=name,
                             headers={"x-routing-key": "manifest.push", "x-attempts": 3},
                             delivery_mode=2, retry=False)

    def files() -> list[str]:  # the embedded broker's messages, each a file
        folder = embedded_directory(config)
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

    before = files() if broker == "embedded" else None
    for _ in range(2):  # listing leaves them parked, in their order
        (tally,) = deadletters.list_dead_letters(config, name)
        assert [letter.event_id for letter in tally.letters] == [e.id for e in events]
        assert all(letter.attempts == 3 for letter in tally.letters)
    if broker == "embedded":  # read in place: not one file taken, written or renamed
        assert files() == before
    (tally,) = deadletters.replay_dead_letters(config, name)
    assert tally.acted == 5
    (tally,) = deadletters.list_dead_letters(config, name)
    assert tally.letters == [] and tally.events == 0
    # No notifier ran: the replayed events wait in the endpoint's queue, in order.
    with connect(config, purpose="consume") as connection:
        queue = topology.endpoint_queue(name)(connection.channel())
        waiting = [queue.get(no_ack=True, accept=["json"]) for _ in range(5)]
    assert [m.payload["id"] for m in waiting] == [e.id for e in events]
