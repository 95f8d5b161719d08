"""Pausing endpoints through the history, with real notifier processes on RabbitMQ, on SQLite
and on PostgreSQL: an operator's pause holds on two notifiers within a second and resume
delivers the backlog; an endpoint whose every delivery fails is auto-paused (its events wait
in the queue, no attempt goes to the dead letters), probed, and resumed when its receiver comes
back, the backlog in order."""

from __future__ import annotations

import json
import time

from tests.conftest import free_port
from tests.integration.notifications.support import endpoint, make_event, wait_until


def lines(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def gauge(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_pause_holds_on_every_notifier_and_resume_delivers_the_backlog(
        rabbitmq_url, receivers, deployments, notifiers, history, uid):
    hook, other = receivers(), receivers()
    paused, active = f"paused-{uid}", f"active-{uid}"
    d = deployments(rabbitmq_url, [endpoint(paused, hook.url), endpoint(active, other.url)],
                    history=history)
    first = notifiers(d, "n1")
    second = notifiers(d, "n2", debug_port=free_port())
    d.publish(make_event())
    hook.wait_for(1)

    result = d.cli("endpoints", "pause", paused)
    assert result.returncode == 0 and f"paused endpoint={paused}" in result.stdout, result.stderr
    asked = time.monotonic()
    for process in (first, second):
        process.wait_log(f"endpoint paused endpoint={paused} reason=operator", timeout=3)
    assert time.monotonic() - asked < 1.5  # (each reads the state twice a second)
    assert "already paused" in d.cli("endpoints", "pause", paused).stdout

    events = [make_event(repository=f"pause/app{i}") for i in range(5)]
    d.publish(*events)
    other.wait_for(6)  # the other endpoint is not held
    time.sleep(1.0)
    assert len(hook.snapshot()) == 1  # nothing reached the paused one: its events wait
    waiting = lines(d.cli("deliveries", "list", "--json", "--endpoint", paused,
                          "--state", "paused"))
    assert sorted(r["event_id"] for r in waiting) == sorted(e.id for e in events)
    (summary,) = [s for s in lines(d.cli("endpoints", "list", "--json")) if s["name"] == paused]
    assert (summary["state"], summary["queued"]) == ("paused", 5)
    assert gauge(d.metrics(), "registry_notifications_endpoint_paused", endpoint=paused,
                 reason="operator") == 1

    result = d.cli("endpoints", "resume", paused)
    assert f"resumed endpoint={paused}" in result.stdout, result.stderr
    got = hook.wait_for(6, timeout=10)
    assert sorted(r.json["id"] for r in got[1:]) == sorted(e.id for e in events)
    for process in (first, second):
        process.wait_log(f"endpoint resumed endpoint={paused}", timeout=3)
    wait_until(lambda: len(lines(d.cli("deliveries", "list", "--json", "--endpoint", paused,
                                       "--state", "delivered"))) == 6, 10, "6 delivered")
    assert gauge(d.metrics(), "registry_notifications_endpoint_paused", endpoint=paused,
                 reason="operator") == 0


def test_an_endpoint_failing_for_autopause_is_paused_probed_and_resumed_when_it_comes_back(
        rabbitmq_url, receivers, deployments, notifiers, history, uid):
    healthy = {"ok": False}
    hook = receivers(respond=lambda _r, _n: (200, {}) if healthy["ok"] else (503, {}))
    name = f"flaky-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, hook.url, autopause="1s", threshold=100,
                                            backoff="100ms", maxbackoff="200ms", concurrency=1)],
                    history=history)
    process = notifiers(d)
    early = make_event(repository="auto/early")
    d.publish(early)
    process.wait_log(f"endpoint auto-paused: every delivery failing endpoint={name}", timeout=15)
    process.wait_log(f"endpoint paused endpoint={name} reason=auto", timeout=3)
    (summary,) = lines(d.cli("endpoints", "list", "--json"))
    assert summary["state"] == "auto-paused"
    assert gauge(d.metrics(), "registry_notifications_endpoint_paused", endpoint=name,
                 reason="auto") == 1

    backlog = [make_event(repository=f"auto/app{i}") for i in range(4)]
    d.publish(*backlog)
    # Still failing: one probe per interval (1 s here), the event put back each time.
    process.wait_log(f"auto-paused endpoint probed endpoint={name}", timeout=10)
    probed = len(hook.snapshot())
    time.sleep(1.5)
    assert len(hook.snapshot()) - probed <= 2  # a probe or two, no more
    assert d.cli("deadletter", "list").stdout == ""  # no attempt went to the dead letters

    healthy["ok"] = True
    process.wait_log(f"endpoint resumed endpoint={name} was=auto", timeout=10)
    expected = {e.id for e in [early, *backlog]}
    delivered = wait_until(
        lambda: (ids := [r.json["id"] for r in hook.snapshot()]) and set(ids) >= expected and ids,
        15, "the backlog delivered")
    firsts = [i for n, i in enumerate(delivered) if i not in delivered[:n]]
    order = [i for i in firsts if i in {e.id for e in backlog}]
    assert order == [e.id for e in backlog]  # the backlog flows in order
    assert gauge(d.metrics(), "registry_notifications_endpoint_paused", endpoint=name,
                 reason="auto") == 0
    assert lines(d.cli("endpoints", "list", "--json"))[0]["state"] == "active"
    # The early event's attempts, probes included, are one delivery's: delivered, never dead.
    shown = lines(d.cli("deliveries", "show", early.id, "--json"))[0]["deliveries"][0]
    assert shown["state"] == "delivered" and shown["attempts"][-1]["status"] == 200
    assert all(a["status"] == 503 for a in shown["attempts"][:-1])
