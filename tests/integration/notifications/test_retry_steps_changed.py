"""Changing an endpoint's ``backoff`` or ``maxbackoff`` changes its retry queues (the wait is in
their names). On Redis and the embedded broker the notifier moves due retries back itself, so
retries still waiting in a queue of a step the new config no longer has must be moved as well,
and counted by ``registry queues list``; RabbitMQ's retry queues dead-letter by themselves."""

from __future__ import annotations

import pytest

from shared.broker import connect, retry_queue_name, topology_for
from tests.integration.notifications.support import endpoint, make_event

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_retries_waiting_at_an_old_step_are_delivered_after_a_backoff_change(
        broker, request, receivers, deployments, notifiers, uid):
    url = request.getfixturevalue("redis_url") if broker == "redis" else None
    healthy = {"ok": False}
    hook = receivers(respond=lambda _r, _n: (200, {}) if healthy["ok"] else (503, {}))
    name = f"fix-steps-{uid}"
    d = deployments(url, [endpoint(name, hook.url, threshold=5, backoff="4s", maxbackoff="4s")])
    old = notifiers(d, "old")
    events = [make_event(repository=f"steps/{i}") for i in range(3)]
    d.publish(*events)
    hook.wait_for(3)
    old.wait_log(f"notification failed endpoint={name}")
    assert old.stop() == 0  # before the 4 s wait is over: the retries stay in the 4000ms queue

    with connect(d.config) as connection:
        assert topology_for(d.config).queue_size(connection, retry_queue_name(name, 4.0)) == 3
    d.reconfigure([endpoint(name, hook.url, threshold=5, backoff="100ms", maxbackoff="200ms")])
    listed = d.cli("queues", "list", "--endpoint", name)
    assert listed.returncode == 0, listed.stderr
    assert f"endpoint={name} state=enabled queued=0 retrying=3 dead=0" in listed.stdout, \
        listed.stdout + listed.stderr

    healthy["ok"] = True
    notifiers(d, "new")
    delivered = hook.wait_for(6, timeout=20)
    assert sorted(r.json["id"] for r in delivered[3:]) == sorted(e.id for e in events)
    assert "retrying=0" in d.cli("queues", "list", "--endpoint", name).stdout
