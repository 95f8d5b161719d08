"""A consumer whose window is full (every message it may hold is in delivery, none finishing)
keeps its RabbitMQ connection past the heartbeat timeout: nothing is delivered twice.

While the window is full the consumer reads no deliveries, and py-amqp ends a connection on
which nothing was read for two heartbeats; what keeps it reading is the queue depth it asks the
broker for every couple of seconds. In-process, with a short heartbeat and a pipeline that holds
its deliveries: a real notifier would need an endpoint slower than a minute (two 30 s
heartbeats) to show it."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from services.notifier import consumer as consumer_module
from services.notifier.outcomes import Delivered
from shared import broker
from tests.integration.notifications.support import endpoint, make_event, wait_until

pytestmark = pytest.mark.integration

HEARTBEAT = 1.0


class HeldSink:
    """Holds every delivery until released; counts them by event id."""

    def __init__(self):
        self.release = threading.Event()
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def deliver(self, delivery):
        with self.lock:
            self.seen[delivery.event["id"]] += 1
        self.release.wait(30)
        return Delivered(200)


def test_a_full_window_outlasts_the_heartbeat_timeout(rabbitmq_url, deployments, uid,
                                                      monkeypatch):
    monkeypatch.setattr(broker, "CONSUME_HEARTBEAT", HEARTBEAT)
    d = deployments(rabbitmq_url, [endpoint(f"held-{uid}", "http://127.0.0.1:9/", concurrency=1)])
    config = d.config
    sink = HeldSink()
    stop = threading.Event()
    consumer = consumer_module.EndpointConsumer(config, config.notifications.endpoints[0], stop,
                                                pipeline=sink)
    consumer.start()
    try:
        wait_until(lambda: consumer.connected, 10, "the consumer connected")
        window = consumer_module.PREFETCH_PER_THREAD  # one delivery thread
        events = [make_event() for _ in range(window)]
        d.publish(*events)
        wait_until(lambda: consumer.inflight == window, 10, "a full window")
        time.sleep(6 * HEARTBEAT)  # two heartbeats missed (and checked) would end the connection
        assert consumer.generation == 1 and consumer.connected
        sink.release.set()
        wait_until(lambda: consumer.inflight == 0 and len(sink.seen) == window, 10,
                   "every event delivered")
        time.sleep(1)
        assert consumer.generation == 1
        assert set(sink.seen) == {e.id for e in events}
        assert max(sink.seen.values()) == 1  # none came back from the broker a second time
    finally:
        sink.release.set()
        stop.set()
        consumer.join(15)
