"""Body formats and Standard Webhooks signatures."""

from __future__ import annotations

import json

from services.notifier.signing import signature
from shared.event_formats import render

EVENT = {"id": "abc", "timestamp": "2026-01-02T03:04:05.123456789Z", "action": "push",
         "target": {"repository": "r"}, "request": {}, "actor": {},
         "source": {"addr": "host:5000", "instanceID": "i"}}


def test_event_format_is_the_bare_event():
    body, content_type = render("event", EVENT, "manifest.push")
    assert content_type == "application/json"
    assert json.loads(body) == EVENT


def test_envelope_format():
    body, content_type = render("envelope", EVENT, "manifest.push")
    assert content_type == "application/vnd.docker.distribution.events.v2+json"
    assert json.loads(body) == {"events": [EVENT]}


def test_cloudevents_structured_mode():
    body, content_type = render("cloudevents", EVENT, "blob.mount")
    assert content_type == "application/cloudevents+json"
    doc = json.loads(body)
    assert doc["specversion"] == "1.0"
    assert doc["id"] == "abc"
    assert doc["type"] == "io.distribution.registry.blob.mount"
    assert doc["time"] == EVENT["timestamp"]
    assert doc["source"] == "//host:5000"
    assert doc["datacontenttype"] == "application/json"
    assert doc["data"] == EVENT


def test_signature_matches_the_standard_webhooks_reference_vector():
    # The example in the Standard Webhooks specification and its reference libraries.
    sig = signature(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek",
                    1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_one_signature_per_secret_space_separated():
    a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    b = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    both = signature([a, b], "id", 1, b"{}").split(" ")
    assert both == [signature([a], "id", 1, b"{}"), signature([b], "id", 1, b"{}")]
    assert all(s.startswith("v1,") for s in both)
