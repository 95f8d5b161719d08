"""Nothing is lost: a notifier killed mid-burst, the broker stopped during publishes, the
embedded broker across a restart of ``registry serve``; endpoints isolated; metrics."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import pytest
import requests

from tests.integration.notifications.support import (
    endpoint,
    free_port,
    make_event,
    push_image,
    start_serve,
    wait_until,
)
from tests.integration.notifications.test_notify_retries import metric

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("broker", ["rabbitmq", "redis", "embedded"])
def test_sigkill_one_of_two_notifiers_mid_burst_loses_nothing(
        broker, request, receivers, deployments, notifiers, uid):
    fixture = {"rabbitmq": "rabbitmq_url", "redis": "redis_url"}.get(broker)
    url = request.getfixturevalue(fixture) if fixture else None
    hook = receivers(delay=0.01)
    # timeout 1s: on Redis a dead consumer's messages come back after 3 x timeout + 10 s.
    d = deployments(url, [endpoint(f"burst-{uid}", hook.url, concurrency=4, timeout="1s")])
    doomed = notifiers(d, "doomed")
    survivor = notifiers(d, "survivor", debug_port=free_port())
    events = [make_event(repository=f"burst/{i}") for i in range(400)]
    d.publish(*events)
    hook.wait_for(80, timeout=20)
    doomed.signal(signal.SIGKILL)
    doomed.proc.wait(5)
    processed = d.workdir / "root" / "_notifications" / "broker" / "processed"
    held = list(processed.glob(f"{doomed.proc.pid}@*")) if broker == "embedded" else []
    wait_until(lambda: set(hook.ids()) >= {e.id for e in events}, 45,
               "every event after the SIGKILL")
    if held:  # the dead one's claimed messages are put back, not lost
        survivor.wait_log("requeued messages of a dead notifier", timeout=10)
        time.sleep(1)  # and delivered again (duplicates: at least once)
    counts = Counter(hook.ids())
    duplicates = sum(n - 1 for n in counts.values())
    print(f"delivered={len(counts)} duplicates={duplicates} claims_left_by_the_killed={len(held)}")
    assert set(counts) == {e.id for e in events}
    assert duplicates <= 4 * 2  # at most the killed notifier's in-flight deliveries
    assert "notification sent" in doomed.log()  # it really was delivering when killed


def test_broker_stopped_during_publishes_then_started(
        private_rabbit, receivers, deployments, notifiers, uid):
    hook = receivers()
    d = deployments(private_rabbit.url, [endpoint(f"outage-{uid}", hook.url, concurrency=1)])
    notifiers(d)
    before = [make_event(repository="outage/before") for _ in range(10)]
    d.publish(*before)
    hook.wait_for(10)

    private_rabbit.stop()
    during = [make_event(repository="outage/during") for _ in range(30)]
    latencies = []
    for event in during:
        started = time.monotonic()
        d.sink.write(event)  # must neither raise nor hang
        latencies.append(time.monotonic() - started)
    spooled = list((d.workdir / "root" / "_notifications" / "spool").glob("*.event"))
    assert len(spooled) == 30  # durable on local disk while the broker is away
    assert max(latencies) < 2.5, latencies  # the bound: connect + I/O timeout, once
    assert sorted(latencies)[len(latencies) // 2] < 0.1  # then straight to the spool

    def health() -> dict:
        return requests.get(f"http://127.0.0.1:{d.debug_port}/debug/health", timeout=5).json()

    # The notifier stays live (a restart would not bring the broker back), and says why not ok.
    wait_until(lambda: health()["status"] == "degraded", 10, "health degraded")
    assert requests.get(f"http://127.0.0.1:{d.debug_port}/debug/health",
                        timeout=5).status_code == 200

    private_rabbit.start()
    wanted = {e.id for e in before + during}
    wait_until(lambda: set(hook.ids()) >= wanted, 40, "every event after the outage")
    during_order = [r.json["id"] for r in hook.snapshot()
                    if r.json["target"]["repository"] == "outage/during"]
    assert during_order[:30] == [e.id for e in during]  # flushed in order (one delivery at a time)
    assert not list((d.workdir / "root" / "_notifications" / "spool").glob("*.event"))
    wait_until(lambda: health()["status"] == "ok", 10, "health ok again")


def test_embedded_mode_survives_a_restart_of_registry_serve(receivers, deployments, uid):
    healthy = {"ok": False}
    hook = receivers(respond=lambda _r, _n: (200, {}) if healthy["ok"] else (503, {}))
    d = deployments(None, [endpoint(f"embedded-{uid}", hook.url, threshold=100,
                                    backoff="100ms", maxbackoff="200ms")])
    serve, base_url = start_serve(d, "serve1")
    digests = [push_image(base_url, f"embedded/app{i}", "v1")[0] for i in range(3)]
    hook.wait_for(3, timeout=20)  # being retried now: events sit in retry queues on disk
    serve.stop()
    assert serve.proc.returncode is not None

    healthy["ok"] = True
    serve2, _ = start_serve(d, "serve2")
    try:
        def manifest_pushes() -> set[str]:
            return {r.json["target"]["digest"] for r in hook.snapshot()
                    if r.header("Content-Type") == "application/json"
                    and r.json["action"] == "push"
                    and r.json["target"].get("mediaType", "").endswith("manifest.v1+json")}

        def blob_pushes() -> set[str]:
            return {r.json["id"] for r in hook.snapshot() if r.json["action"] == "push"
                    and r.json["target"]["mediaType"] == "application/octet-stream"}

        # Every event, in no particular order: they wait in the retry queues of different
        # backoff steps, which are moved back one queue after another.
        wait_until(lambda: manifest_pushes() >= set(digests) and len(blob_pushes()) == 6, 30,
                   "every queued event after the restart (two blobs and a manifest an image)")
        # One /metrics for both: the registry's debug server shows the embedded notifier's too.
        name = f"embedded-{uid}"
        text = wait_until(
            lambda: (t := requests.get(f"{serve2.debug_url}/metrics", timeout=5).text)
            and (metric(t, "registry_notifications_sent_total", endpoint=name) or 0) >= 9 and t,
            10, "the embedded notifier's figures on the registry's /metrics")
        assert metric(text, "registry_notifications_delivery_latency_seconds_count",
                      endpoint=name) >= 9
    finally:
        serve2.stop()


def test_a_slow_endpoint_does_not_delay_a_fast_one(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    slow, fast = receivers(delay=1.0), receivers()
    d = deployments(rabbitmq_url, [
        endpoint(f"slow-{uid}", slow.url, timeout="5s", concurrency=1),
        endpoint(f"fast-{uid}", fast.url),
    ])
    notifiers(d)
    events = [make_event() for _ in range(20)]
    started = time.time()
    d.publish(*events)
    arrived = fast.wait_for(20, timeout=5)
    assert arrived[-1].at - started < 1.5
    assert len(slow.requests) <= 3  # still working through its first events


@pytest.mark.parametrize("broker", ["rabbitmq", "redis", "embedded"])
def test_a_delivery_still_running_holds_back_no_other(
        broker, request, receivers, deployments, notifiers, uid):
    """On RabbitMQ settled messages are acknowledged several in one frame; one settled behind a
    delivery still running must still be acknowledged at once. Kept waiting, it would hold its
    prefetch slot: with 2 threads the consumer holds 8 messages, so the 20 after a stuck one
    could not all arrive while it is stuck."""
    url = {"rabbitmq": "rabbitmq_url", "redis": "redis_url"}.get(broker)
    release = threading.Event()
    stuck = make_event(repository="library/stuck")

    def respond(record, _n):
        if record.json["id"] == stuck.id:
            release.wait(30)
        return 200, {}

    hook = receivers(respond=respond)
    d = deployments(request.getfixturevalue(url) if url else None,
                    [endpoint(f"stuck-{uid}", hook.url, timeout="40s", concurrency=2)])
    notifiers(d)
    others = [make_event() for _ in range(20)]
    d.publish(stuck, *others)
    try:
        hook.wait_for(21, timeout=20)
        # Arrived, not answered: the stuck one is still in delivery while all the others came.
        assert set(hook.ids()) == {stuck.id, *(e.id for e in others)}
    finally:
        release.set()
    wait_until(lambda: metric(d.metrics(), "registry_notifications_sent_total",
                              endpoint=f"stuck-{uid}") == 21, 10, "21 events sent")


def test_a_stopping_notifier_starts_no_more_deliveries(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    """A notifier holds more messages than it has delivery threads. Stopped (a rolling update),
    it finishes the deliveries running and hands the others back unstarted: begun during the
    grace period, they could outlast it and arrive twice."""
    hook = receivers(delay=2.0)
    d = deployments(rabbitmq_url, [endpoint(f"stop-{uid}", hook.url, timeout="10s",
                                            concurrency=1)])
    first = notifiers(d)
    events = [make_event() for _ in range(4)]  # the window of one delivery thread
    d.publish(*events)
    hook.wait_for(1)
    assert first.stop() == 0
    assert len(hook.requests) == 1  # the one running when it stopped
    notifiers(d, "second")
    hook.wait_for(4, timeout=20)
    time.sleep(0.5)
    assert sorted(hook.ids()) == sorted(e.id for e in events)  # each once


@pytest.mark.parametrize("broker", ["rabbitmq", "redis", "embedded"])
def test_notifier_metrics(broker, request, receivers, deployments, notifiers, uid):
    url = {"rabbitmq": "rabbitmq_url", "redis": "redis_url"}.get(broker)
    hook = receivers(respond=lambda _r, _n: (202, {}))
    name = f"metrics-{uid}"
    d = deployments(request.getfixturevalue(url) if url else None, [endpoint(name, hook.url)])
    notifiers(d)
    d.publish(*(make_event() for _ in range(5)))
    hook.wait_for(5)

    def scraped() -> str | None:
        text = d.metrics()
        return text if metric(text, "registry_notifications_sent_total", endpoint=name) == 5 \
            else None

    text = wait_until(scraped, 5, "sent_total=5")
    assert metric(text, "registry_notifications_delivery_latency_seconds_count",
                  endpoint=name) == 5
    assert metric(text, "registry_notifications_attempts_count", endpoint=name) == 5
    assert metric(text, "registry_notifications_http_responses_total", endpoint=name,
                  code="202") == 5
    assert metric(text, "registry_notifications_events_total", type="Events",
                  endpoint=name) == 5
    assert metric(text, "registry_notifications_events_total", type="Successes",
                  endpoint=name) == 5
    assert metric(text, "registry_notifications_status_total", code="202 Accepted",
                  endpoint=name) == 5
    assert metric(text, "registry_notifications_pending_total", endpoint=name) == 0
    # Read from the broker every few seconds: it comes down to 0 once the queue is drained.
    wait_until(lambda: metric(d.metrics(), "registry_notifications_queue_depth",
                              endpoint=name) == 0, 6, "queue depth 0", interval=0.2)
    assert metric(text, "registry_notifications_deadletter_depth", endpoint=name) == 0
    health = requests.get(f"http://127.0.0.1:{d.debug_port}/debug/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["endpoints"] == {name: True}


def test_publish_latency_is_bounded_when_the_broker_hangs(deployments, uid):
    """A broker that accepts connections and never answers (overloaded, half-dead): the first
    write waits at most the connect timeout, later ones go straight to the spool."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted = []

    def accept_forever() -> None:
        try:
            while True:
                accepted.append(server.accept())
        except OSError:
            return  # closed at the end of the test

    threading.Thread(target=accept_forever, daemon=True).start()
    try:
        d = deployments(f"amqp://guest:guest@127.0.0.1:{server.getsockname()[1]}//",
                        [endpoint(f"hang-{uid}", "http://127.0.0.1:9/")])
        took = []
        for _ in range(10):
            started = time.monotonic()
            d.sink.write(make_event())
            took.append(time.monotonic() - started)
        assert accepted  # it did try the broker
        assert took[0] < 2.5, took
        assert max(took[1:]) < 0.2, took
        assert len(list((d.workdir / "root" / "_notifications" / "spool").glob("*.event"))) == 10
    finally:
        server.close()
