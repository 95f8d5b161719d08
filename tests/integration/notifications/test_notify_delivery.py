"""What arrives at an endpoint: payload fields per action, filters, disabled endpoints,
headers, body formats and signatures; on RabbitMQ, through real notifier processes."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.integration.notifications.support import BLOB_MEDIA_TYPE, endpoint, make_event

pytestmark = pytest.mark.integration

GUIDE_FIELDS = {
    "id", "timestamp", "action", "target", "request", "actor", "source",
}


def test_every_action_arrives_with_the_guides_payload_fields(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    hook = receivers()
    d = deployments(rabbitmq_url, [endpoint(f"all-{uid}", hook.url)])
    notifiers(d)
    events = [
        make_event("push", "manifest"), make_event("pull", "manifest"),
        make_event("delete", "manifest"), make_event("push", "blob"),
        make_event("pull", "blob"), make_event("delete", "blob"), make_event("mount", "blob"),
        make_event("delete", "tag", tag="old"),
    ]
    d.publish(*events)
    hook.wait_for(len(events))
    received = {r.json["id"]: r for r in hook.snapshot()}
    assert set(received) == {e.id for e in events}
    for event in events:
        request = received[event.id]
        body = request.json
        assert request.header("Content-Type") == "application/json"
        assert body == event.to_dict()  # exactly the registry's event, nothing lost or added
        assert GUIDE_FIELDS <= set(body)
        assert body["action"] == event.action
        assert body["target"]["repository"] == "library/app"
        assert set(body["request"]) == {"id", "addr", "host", "method", "useragent"}
        assert body["actor"] == {"name": "username"}
        assert set(body["source"]) == {"addr", "instanceID"}
        if event.action != "delete":
            assert {"mediaType", "digest", "size", "length", "url"} <= set(body["target"])
    push = received[events[0].id].json
    assert push["target"]["tag"] == "latest"
    assert received[events[6].id].json["target"]["fromRepository"] == "library/other"


def test_each_filter_drops_only_for_its_endpoint(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    hooks = {name: receivers() for name in
             ("all", "actions", "legacy", "mediatypes", "repos", "ignorerepos", "head")}
    d = deployments(rabbitmq_url, [
        endpoint(f"all-{uid}", hooks["all"].url),
        # ignore.actions alone must work (the reference before 3.1 ignored it)
        endpoint(f"actions-{uid}", hooks["actions"].url, ignore={"actions": ["pull"]}),
        endpoint(f"legacy-{uid}", hooks["legacy"].url, ignoredmediatypes=[BLOB_MEDIA_TYPE]),
        endpoint(f"mediatypes-{uid}", hooks["mediatypes"].url,
                 ignore={"mediatypes": [BLOB_MEDIA_TYPE]}),
        endpoint(f"repos-{uid}", hooks["repos"].url, repositories=["library/*"]),
        endpoint(f"ignorerepos-{uid}", hooks["ignorerepos"].url,
                 ignore={"repositories": ["library/*"]}),
        endpoint(f"head-{uid}", hooks["head"].url, ignore={"headrequests": True}),
    ])
    notifiers(d)
    manifest_push = make_event("push", "manifest", repository="library/app")
    manifest_pull = make_event("pull", "manifest", repository="library/app")
    blob_push = make_event("push", "blob", repository="library/app")
    head_pull = make_event("pull", "blob", repository="library/app", method="HEAD")
    other_repo = make_event("push", "manifest", repository="libraryx/a")
    nested = make_event("push", "manifest", repository="library/team/app")
    events = [manifest_push, manifest_pull, blob_push, head_pull, other_repo, nested]
    d.publish(*events)
    hooks["all"].wait_for(len(events))
    expected = {
        "actions": [manifest_push, blob_push, other_repo, nested],
        "legacy": [manifest_push, manifest_pull, other_repo, nested],
        "mediatypes": [manifest_push, manifest_pull, other_repo, nested],
        "repos": [manifest_push, manifest_pull, blob_push, head_pull, nested],
        "ignorerepos": [other_repo],
        "head": [manifest_push, manifest_pull, blob_push, other_repo, nested],
    }
    for name, wanted in expected.items():
        hooks[name].wait_for(len(wanted))
    time.sleep(0.5)  # anything filtered wrongly would have arrived by now
    for name, wanted in expected.items():
        assert sorted(hooks[name].ids()) == sorted(e.id for e in wanted), name


def test_disabled_endpoint_receives_nothing_and_has_no_queue(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    on, off = receivers(), receivers()
    d = deployments(rabbitmq_url, [endpoint(f"on-{uid}", on.url),
                                   endpoint(f"off-{uid}", off.url, disabled=True)])
    process = notifiers(d)
    d.publish(*(make_event() for _ in range(5)))
    on.wait_for(5)
    time.sleep(0.5)
    assert off.requests == []
    assert f"endpoint disabled, not consuming endpoint=off-{uid}" in process.log()
    from kombu import Connection

    with Connection(rabbitmq_url) as conn:  # nothing piles up for it either
        with pytest.raises(Exception, match="NOT_FOUND"):
            conn.channel().queue_declare(f"registry.notifications.off-{uid}", passive=True)


def test_configured_headers_are_sent_and_win_and_never_logged(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    hook = receivers()
    d = deployments(rabbitmq_url, [endpoint(f"h-{uid}", hook.url, headers={
        "Authorization": ["Bearer s3cr3t-token-value"],
        "Content-Type": ["application/x-custom+json"],
        "X-Multi": ["one", "two"],
        "X-Latin": ["café"],  # HTTP header values are bytes: Latin-1 text goes as it is
    })])
    process = notifiers(d)
    d.publish(make_event())
    request = hook.wait_for(1)[0]
    assert request.header("Authorization") == "Bearer s3cr3t-token-value"
    assert request.header("Content-Type") == "application/x-custom+json"
    assert request.header("X-Multi") == "one, two"
    assert request.header("X-Latin") == "café"
    process.wait_log(f"notification sent endpoint=h-{uid} repository=library/app action=push")
    assert "s3cr3t-token-value" not in process.log()


def test_a_large_event_goes_in_one_request_without_expect_continue(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    # HTTP clients commonly hold bodies over 1 KiB behind "Expect: 100-continue"; a receiver that
    # does not answer 100 would cost every such event a second's wait.
    hook = receivers()
    d = deployments(rabbitmq_url, [endpoint(f"big-{uid}", hook.url)])
    notifiers(d)
    event = make_event()
    event.target.references = ["sha256:" + f"{i:064x}" for i in range(40)]
    d.publish(event)
    request = hook.wait_for(1)[0]
    assert len(request.body) > 2048
    assert request.header("Expect") is None
    assert request.json == event.to_dict()


def test_deliveries_reuse_their_connections(rabbitmq_url, receivers, deployments, notifiers, uid):
    hook = receivers()
    d = deployments(rabbitmq_url, [endpoint(f"keep-{uid}", hook.url, concurrency=2)])
    notifiers(d)
    d.publish(*[make_event() for _ in range(30)])
    requests = hook.wait_for(30)
    # Each delivery thread keeps its connection alive: two threads, at most two connections.
    assert 1 <= len({r.peer for r in requests}) <= 2


def test_each_body_format(rabbitmq_url, receivers, deployments, notifiers, uid):
    plain, envelope, cloud = receivers(), receivers(), receivers()
    d = deployments(rabbitmq_url, [
        endpoint(f"plain-{uid}", plain.url),
        endpoint(f"envelope-{uid}", envelope.url, format="envelope"),
        endpoint(f"cloud-{uid}", cloud.url, format="cloudevents"),
    ])
    notifiers(d)
    event = make_event("push", "manifest")
    d.publish(event)
    body = plain.wait_for(1)[0]
    assert body.header("Content-Type") == "application/json"
    assert body.json == event.to_dict()
    env = envelope.wait_for(1)[0]
    assert env.header("Content-Type") == "application/vnd.docker.distribution.events.v2+json"
    assert env.json == {"events": [event.to_dict()]}
    ce = cloud.wait_for(1)[0]
    assert ce.header("Content-Type") == "application/cloudevents+json"
    doc = ce.json
    assert doc["specversion"] == "1.0"
    assert doc["id"] == event.id
    assert doc["type"] == "io.distribution.registry.manifest.push"
    assert doc["time"] == event.timestamp
    assert doc["source"]
    assert doc["datacontenttype"] == "application/json"
    assert doc["data"] == event.to_dict()


def _verify_standard_webhook(secret: str, request) -> bool:
    """An independent check: the Standard Webhooks project's own verifier."""
    headers = {name: request.header(name)
               for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    try:
        Webhook(secret).verify(request.body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_signed_webhooks_with_rotation(rabbitmq_url, receivers, deployments, notifiers, uid,
                                       monkeypatch, tmp_path):
    old = "whsec_" + base64.b64encode(b"old-secret-key-32-bytes-long!!!!").decode()
    new = "whsec_" + base64.b64encode(b"new-secret-key-32-bytes-long!!!!").decode()
    hook = receivers(respond=lambda _r, n: (500, {}) if n == 1 else (200, {}))
    secret_file = tmp_path / "new-secret"
    secret_file.write_text(new + "\n")
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", old)
    # The secrets live outside the config file: an environment variable and a mounted file.
    d = deployments(rabbitmq_url, [endpoint(f"sig-{uid}", hook.url, signing={
        "secrets": ["${env:TEST_WEBHOOK_SECRET}", f"${{file:{secret_file}}}"]})])
    process = notifiers(d)
    event = make_event()
    d.publish(event)
    first, second = hook.wait_for(2)
    for request in (first, second):
        assert request.header("webhook-id") == event.id  # the same on every retry
        assert abs(int(request.header("webhook-timestamp")) - time.time()) < 30
        assert len(request.header("webhook-signature").split(" ")) == 2
        assert _verify_standard_webhook(old, request)
        assert _verify_standard_webhook(new, request)
    assert not _verify_standard_webhook(
        "whsec_" + base64.b64encode(b"another-key").decode(), first)
    assert old not in process.log() and new not in process.log()
    assert old not in d.config_path.read_text()
