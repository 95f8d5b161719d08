"""The delivery history through the command line, as an operator uses it, against a real
``registry serve`` (embedded broker, its notifier beside it) that skopeo pushes to, on SQLite
and on PostgreSQL: ``deliveries list/show`` with the receivers' answers and every error class,
secrets masked, ``resend`` one and a range, a replayed dead letter as new attempts of the same
delivery, ``backfill`` to an endpoint added later, and ``endpoints list/test``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.oci import write_image
from tests.integration.notifications.support import (
    Deployment,
    endpoint,
    start_serve,
    wait_until,
)

SECRET_TOKEN = "Bearer top-secret-token-4711"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REPO = "history/app"


def lines(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def by_endpoint(shown: dict) -> dict[str, dict]:
    return {d["endpoint"]: d for d in shown["deliveries"]}


def wait_state(d: Deployment, endpoint_name: str, state: str, count: int,
               timeout: float = 20.0) -> list[dict]:
    def reached():
        rows = lines(d.cli("deliveries", "list", "--json", "--endpoint", endpoint_name,
                           "--state", state))
        return rows if len(rows) >= count else None

    return wait_until(reached, timeout, f"{count} {state} deliveries of {endpoint_name}", 0.3)


@pytest.fixture
def pushed(tmp_path: Path, receivers, deployments, history, skopeo):
    """A registry with six endpoints (one answering, one failing with a body, one refusing
    connections, one too slow, one whose host does not resolve, one filtering pushes out), and
    a skopeo push of a two-layer image."""
    answers = {"ok": True}
    ok = receivers(respond=lambda _r, _n: (200, {"X-Receiver": "ok"}, b'{"accepted":true}'))
    failing = receivers(respond=lambda _r, _n: (200, {}, b"thanks") if answers["ok"] is False
                        else (503, {"Retry-After": "0"}, b"down for maintenance"))
    slow = receivers(delay=1.5)
    eps = [
        endpoint("ok", ok.url, headers={"Authorization": [SECRET_TOKEN], "X-Team": ["web"]},
                 signing={"secret": SIGNING_SECRET}),
        endpoint("failing", failing.url, threshold=2),
        endpoint("refused", f"http://127.0.0.1:{free_port()}/hook", threshold=2),
        endpoint("slow", slow.url, timeout="300ms", threshold=2),
        endpoint("unresolvable", "http://registry-history-test.invalid/hook", threshold=2),
        endpoint("no-pushes", ok.url, ignore={"actions": ["push"]}),
    ]
    d = deployments(None, eps, history=history)
    process, base = start_serve(d)
    layout = tmp_path / "layout"
    write_image(layout, "v1", [2048, 4096])
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
           f"docker://{base.removeprefix('http://')}/{REPO}:v1")
    yield d, process, {"ok": ok, "failing": failing, "slow": slow}, answers
    process.stop()


def test_a_push_shows_every_delivery_with_the_receivers_answer_and_each_error_class(pushed):
    d, process, hooks, _ = pushed
    hooks["ok"].wait_for(4, timeout=20)  # config, two layers, manifest
    wait_state(d, "unresolvable", "dead", 4)
    wait_state(d, "slow", "dead", 4)

    listed = lines(d.cli("deliveries", "list", "--json", "--repository", "history/*"))
    assert {"event_id", "endpoint", "state", "action", "repository", "tag", "digest", "time",
            "attempts", "last_status"} == set(listed[0])
    manifest = next(r for r in listed if r["endpoint"] == "ok" and r["tag"] == "v1")
    assert (manifest["state"], manifest["action"], manifest["repository"],
            manifest["attempts"], manifest["last_status"]) == ("delivered", "push", REPO, 1, 200)
    assert manifest["digest"].startswith("sha256:")
    event_id = manifest["event_id"]

    shown = lines(d.cli("deliveries", "show", event_id, "--json"))[0]
    assert shown["event"]["id"] == event_id and shown["event"]["target"]["tag"] == "v1"
    deliveries = by_endpoint(shown)
    assert set(deliveries) == {"ok", "failing", "refused", "slow", "unresolvable", "no-pushes"}
    (attempt,) = deliveries["ok"]["attempts"]
    assert set(attempt) == {"number", "time", "notifier", "duration_ms", "request_headers",
                            "status", "response_headers", "response_body", "error_class", "error"}
    assert (attempt["number"], attempt["status"], attempt["error_class"]) == (1, 200, None)
    assert attempt["response_body"] == '{"accepted":true}'
    assert attempt["response_headers"]["X-Receiver"] == "ok"
    assert attempt["duration_ms"] >= 0 and ":" in attempt["notifier"]
    # Header names shown; configured values and the signature masked, the rest as sent.
    sent = attempt["request_headers"]
    assert sent["Authorization"] == "***" and sent["X-Team"] == "***"
    assert sent["webhook-signature"] == "***" and sent["webhook-id"] == event_id
    assert sent["Content-Type"] == "application/json"

    failing = deliveries["failing"]
    assert failing["state"] == "dead"
    assert [(a["number"], a["status"], a["error_class"], a["response_body"])
            for a in failing["attempts"]] == [(1, 503, "status", "down for maintenance")] * 1 + \
        [(2, 503, "status", "down for maintenance")]
    classes = {name: {a["error_class"] for a in deliveries[name]["attempts"]}
               for name in ("refused", "slow", "unresolvable")}
    assert classes == {"refused": {"connect"}, "slow": {"timeout"}, "unresolvable": {"dns"}}
    assert all(a["status"] is None and a["error"] for a in deliveries["slow"]["attempts"])
    assert deliveries["no-pushes"] == {"endpoint": "no-pushes", "state": "filtered",
                                      "attempts": []}

    # The secret values are nowhere in what the commands show.
    everything = d.cli("deliveries", "show", event_id).stdout + json.dumps(shown)
    assert SECRET_TOKEN not in everything and SIGNING_SECRET not in everything
    assert "ok: delivered" in everything and "HTTP 503" in everything

    table = d.cli("deliveries", "list", "--endpoint", "refused")
    assert table.returncode == 0 and table.stdout.startswith("TIME")
    assert "dead" in table.stdout and "connect" in table.stdout
    summaries = {s["name"]: s for s in lines(d.cli("endpoints", "list", "--json"))}
    assert set(summaries["ok"]) == {"name", "state", "queued", "retrying", "dead",
                                    "success_rate", "p95_ms", "last_status"}
    assert (summaries["ok"]["state"], summaries["ok"]["success_rate"],
            summaries["ok"]["last_status"]) == ("active", 1.0, 200)
    assert summaries["ok"]["p95_ms"] > 0
    assert (summaries["failing"]["dead"], summaries["failing"]["success_rate"],
            summaries["failing"]["last_status"]) == (4, 0.0, 503)


def test_resend_replay_and_backfill(pushed):
    d, process, hooks, answers = pushed
    ok, failing = hooks["ok"], hooks["failing"]
    ok.wait_for(4, timeout=20)
    dead = wait_state(d, "failing", "dead", 4)
    manifest = next(r for r in dead if r["tag"] == "v1")

    # Resend one: the receiver gets it again, the delivery has a second attempt.
    event_id = lines(d.cli("deliveries", "list", "--json", "--endpoint", "ok"))[0]["event_id"]
    resent = d.cli("deliveries", "resend", event_id, "--endpoint", "ok")
    assert resent.returncode == 0, resent.stderr
    again = ok.wait_for(5, timeout=10)[-1]
    assert again.json["id"] == event_id
    wait_until(lambda: len(by_endpoint(lines(d.cli("deliveries", "show", event_id, "--json"))[0])
                           ["ok"]["attempts"]) == 2, 10, "the resend's attempt")

    # A replayed dead letter: new attempts of the same delivery (still failing: dead again).
    replayed = d.cli("deadletter", "replay", "--endpoint", "failing")
    assert replayed.returncode == 0 and "endpoint=failing count=4" in replayed.stdout
    def attempts_of_manifest():
        shown = lines(d.cli("deliveries", "show", manifest["event_id"], "--endpoint", "failing",
                            "--json"))[0]
        return shown["deliveries"][0]
    settled = wait_until(lambda: (s := attempts_of_manifest()) and s["state"] == "dead"
                         and len(s["attempts"]) == 4 and s, 20, "the replay's two attempts")
    assert [a["number"] for a in settled["attempts"]] == [1, 2, 3, 4]

    # Resend a range: the count first, nothing sent; then with --yes, delivered.
    answers["ok"] = False  # the failing receiver now answers 200
    before = len(failing.snapshot())
    counted = d.cli("deliveries", "resend", "--endpoint", "failing", "--since", "1h",
                    "--state", "dead", "--repository", "history/*")
    assert counted.returncode == 0, counted.stderr
    assert "count=4" in counted.stdout and "nothing sent" in counted.stdout
    time.sleep(1)
    assert len(failing.snapshot()) == before
    sent = d.cli("deliveries", "resend", "--endpoint", "failing", "--since", "1h", "--state",
                 "dead", "--yes")
    assert "resent endpoint=failing count=4" in sent.stdout, sent.stdout + sent.stderr
    wait_state(d, "failing", "delivered", 4)
    assert len(failing.wait_for(before + 4, timeout=10)) == before + 4
    # The dead-letter queue keeps its own copies (the replayed ones failed again): purged.
    counted = d.cli("deadletter", "purge", "--endpoint", "failing")
    assert "would purge endpoint=failing count=4" in counted.stdout, counted.stdout
    purged = d.cli("deadletter", "purge", "--endpoint", "failing", "--yes")
    assert "purged endpoint=failing count=4" in purged.stdout, purged.stdout + purged.stderr
    assert d.cli("deadletter", "list", "--endpoint", "failing").stdout == ""

    # Backfill to an endpoint added later: past events through its filters.
    process.stop()
    late = d.endpoints + [endpoint("late", ok.url, ignore={
        "mediatypes": ["application/octet-stream"], "actions": ["pull"]})]
    d.reconfigure(late)
    process, _ = start_serve(d, name="serve-again")
    try:
        before = len(ok.snapshot())
        counted = d.cli("deliveries", "backfill", "--endpoint", "late", "--since", "1h")
        assert "count=1" in counted.stdout, counted.stdout + counted.stderr  # the manifest
        sent = d.cli("deliveries", "backfill", "--endpoint", "late", "--since", "1h", "--yes")
        assert "backfilled endpoint=late count=1" in sent.stdout, sent.stdout + sent.stderr
        (got,) = ok.wait_for(before + 1, timeout=15)[before:]
        assert got.json["id"] == manifest["event_id"]
        wait_state(d, "late", "delivered", 1)
        # Done once: a second backfill finds nothing left to send.
        assert "count=0" in d.cli("deliveries", "backfill", "--endpoint", "late",
                                  "--since", "1h").stdout
    finally:
        process.stop()


def test_endpoints_test_sends_a_test_event_shown_like_any_delivery(pushed):
    d, _, hooks, _ = pushed
    tested = d.cli("endpoints", "test", "ok")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "status=200" in tested.stdout
    test_event = next(r for r in hooks["ok"].wait_for(1) if r.json["action"] == "test")
    event_id = test_event.json["id"]
    shown = lines(d.cli("deliveries", "show", event_id, "--json"))[0]
    assert shown["event"]["action"] == "test"
    assert [(x["endpoint"], x["state"], len(x["attempts"])) for x in shown["deliveries"]] == [
        ("ok", "delivered", 1)]
    assert shown["deliveries"][0]["attempts"][0]["response_body"] == '{"accepted":true}'

    refused = d.cli("endpoints", "test", "refused")
    assert refused.returncode == 1 and "error_class=connect" in refused.stdout
    unknown = d.cli("endpoints", "test", "nope")
    assert unknown.returncode == 2 and "no endpoint named 'nope'" in unknown.stderr
