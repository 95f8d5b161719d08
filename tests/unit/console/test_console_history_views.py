"""What the console's history pages compute: an event's body in each format (the notifier's own
formatting), copy-as-curl with secrets masked, the time filters, the dead letters chosen, and
what makes an endpoint need attention."""

from __future__ import annotations

import json
import shlex

import pytest

from services.console.history.deadletters import chosen_letters
from services.console.history.endpoints import attention
from services.console.history.requests import bodies, curl_command
from services.console.history.times import BadFilter, parse_time
from shared.config import EndpointConfig
from shared.event_formats import render
from shared.operations.endpoints import EndpointSummary

EVENT = {"id": "e-1", "timestamp": "2026-12-07T10:04:05.123Z", "action": "push",
         "target": {"repository": "demo/app", "tag": "v1"}, "source": {"addr": "reg:5000"}}


def test_the_bodies_are_what_the_notifier_posts_in_each_format():
    shown = {b.format: b for b in bodies(EVENT, "manifest.push")}
    assert list(shown) == ["event", "envelope", "cloudevents"]
    for fmt, body in shown.items():
        raw, content_type = render(fmt, EVENT, "manifest.push")
        assert json.loads(body.text) == json.loads(raw) and body.content_type == content_type


def test_curl_masks_credentials_configured_headers_and_signatures():
    endpoint = EndpointConfig(name="ci", url="https://ci-user:ci-pass@ci.example/hook?x=1",
                              headers={"Authorization": ("Bearer s3cret",), "X-Team": ("team-value-7",)},
                              signing_secrets=("whsec_c2lnbmluZy1zZWNyZXQ=",),
                              format="envelope")
    command = curl_command(endpoint, EVENT, "manifest.push", None)  # no attempt yet
    assert "s3cret" not in command and "ci-pass" not in command and "ci-user" not in command
    assert "whsec" not in command and "team-value-7" not in command  # every configured value masked
    args = shlex.split(command)
    assert args[:5] == ["curl", "-sS", "-X", "POST", "https://ci.example/hook?x=1"]
    headers = [args[i + 1] for i, a in enumerate(args) if a == "-H"]
    assert headers == ["Content-Type: application/vnd.docker.distribution.events.v2+json",
                       "Authorization: ***", "X-Team: ***", "webhook-signature: ***"]
    assert json.loads(args[args.index("--data-binary") + 1]) == {"events": [EVENT]}


def test_curl_repeats_the_headers_an_attempt_sent_as_the_history_kept_them():
    endpoint = EndpointConfig(name="ci", url="http://ci.example/hook")
    sent = {"Content-Type": "application/json", "User-Agent": "registry-notifier/0.1",
            "Authorization": "***", "Content-Length": "120"}
    args = shlex.split(curl_command(endpoint, EVENT, "manifest.push", sent))
    headers = [args[i + 1] for i, a in enumerate(args) if a == "-H"]
    assert headers == ["Content-Type: application/json", "User-Agent: registry-notifier/0.1",
                       "Authorization: ***"]  # curl computes the length itself


def test_times_are_durations_back_from_now_or_utc_dates():
    assert parse_time("2h", "since", now=10_000.0) == 10_000.0 - 7200
    assert parse_time("2026-12-07T10:04", "since") == parse_time("2026-12-07 10:04:00Z", "x")
    assert parse_time("2026-12-07T11:04+01:00", "since") == parse_time("2026-12-07T10:04", "x")
    assert parse_time("  ", "since") is None
    with pytest.raises(BadFilter, match="since"):
        parse_time("yesterday", "since")


def test_chosen_letters_are_grouped_by_endpoint():
    assert chosen_letters(["ci/e-1", "ci/e-2", "audit/e-1"]) == {
        "ci": frozenset({"e-1", "e-2"}), "audit": frozenset({"e-1"})}
    with pytest.raises(BadFilter):
        chosen_letters(["no-event-id"])


def summary(**fields) -> EndpointSummary:
    base = dict(name="ci", state="active", queued=0, retrying=0, dead=0, success_rate=1.0,
                p95_ms=10.0, last_status=200)
    return EndpointSummary(**{**base, **fields})


@pytest.mark.parametrize("fields, expected", [
    ({}, []),
    ({"success_rate": None, "last_status": None}, []),  # nothing sent in the last hour
    ({"state": "auto-paused"}, ["auto-paused"]),
    ({"state": "paused", "paused_by": "console:alice"}, ["paused by console:alice"]),
    ({"dead": 3}, ["3 dead letters"]),
    ({"retrying": 1}, ["1 waiting for a retry"]),
    ({"success_rate": 0.5, "last_status": 503}, ["50% of the last hour", "answered 503"]),
    ({"last_status": None, "last_error_class": "timeout"}, ["failed: timeout"]),
])
def test_what_needs_attention(fields, expected):
    reasons = attention(summary(**fields))
    assert len(reasons) == len(expected)
    for reason, part in zip(reasons, expected, strict=True):
        assert part in reason
