"""End to end: real ``registry serve`` requests produce webhooks through RabbitMQ and a
``registry notifier``; pushes keep succeeding while the broker is down."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integration.notifications.support import (
    MANIFEST_MEDIA_TYPE,
    endpoint,
    push_image,
    start_serve,
    wait_until,
)

pytestmark = pytest.mark.integration


def _storage(d) -> dict:
    return {"storage": {"filesystem": {"rootdirectory": str(d.workdir / "root")},
                        "delete": {"enabled": True}}}


def test_registry_operations_arrive_as_webhooks(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    everything, no_head = receivers(), receivers()
    d = deployments(rabbitmq_url, [
        endpoint(f"all-{uid}", everything.url),
        endpoint(f"nohead-{uid}", no_head.url, ignore={"headrequests": True}),
    ])
    d.extra.update(_storage(d))
    d.write()
    notifiers(d)
    serve, base = start_serve(d)
    try:
        manifest, (config_blob, layer) = push_image(base, "team/app", "latest")
        assert requests.get(f"{base}/v2/team/app/manifests/latest", timeout=5,
                            headers={"Accept": MANIFEST_MEDIA_TYPE}).status_code == 200
        assert requests.head(f"{base}/v2/team/app/manifests/latest", timeout=5,
                             headers={"Accept": MANIFEST_MEDIA_TYPE}).status_code == 200
        assert requests.get(f"{base}/v2/team/app/blobs/{layer}", timeout=5).status_code == 200
        mounted = requests.post(f"{base}/v2/team/copy/blobs/uploads/?mount={layer}&from=team/app",
                                timeout=5)
        assert mounted.status_code == 201
        assert requests.delete(f"{base}/v2/team/copy/blobs/{layer}", timeout=5).status_code == 202
        assert requests.delete(f"{base}/v2/team/app/manifests/{manifest}",
                               timeout=5).status_code == 202
    finally:
        serve.stop()

    expected = [  # (action, repository, digest, method)
        ("push", "team/app", config_blob, "PUT"), ("push", "team/app", layer, "PUT"),
        ("push", "team/app", manifest, "PUT"), ("pull", "team/app", manifest, "GET"),
        ("pull", "team/app", manifest, "HEAD"), ("pull", "team/app", layer, "GET"),
        ("mount", "team/copy", layer, "POST"), ("delete", "team/copy", layer, "DELETE"),
        ("delete", "team/app", manifest, "DELETE"),
        ("delete", "team/app", "latest", "DELETE"),  # the tag went with the manifest
    ]

    def seen(receiver) -> list[tuple]:
        return sorted((e["action"], e["target"]["repository"],
                       e["target"].get("digest") or e["target"].get("tag"),
                       e["request"]["method"]) for e in receiver.events())

    wait_until(lambda: seen(everything) == sorted(expected), 15,
               f"every operation's event (got {seen(everything)})")
    wait_until(lambda: seen(no_head) == sorted(x for x in expected if x[3] != "HEAD"), 10,
               "every event but the HEAD pull")
    by_action = {(e["action"], e["target"].get("digest")): e for e in everything.events()}
    push = by_action[("push", manifest)]
    assert push["target"]["mediaType"] == MANIFEST_MEDIA_TYPE
    assert push["target"]["tag"] == "latest"
    assert push["target"]["url"].endswith(f"/v2/team/app/manifests/{manifest}")
    assert push["request"]["useragent"].startswith("python-requests")
    assert by_action[("mount", layer)]["target"]["fromRepository"] == "team/app"
    assert by_action[("push", layer)]["target"]["mediaType"] == "application/octet-stream"


def test_pushes_succeed_while_the_broker_is_down_and_every_event_arrives(
        private_rabbit, receivers, deployments, notifiers, uid):
    hook = receivers()
    d = deployments(private_rabbit.url, [endpoint(f"outage-{uid}", hook.url)])
    notifiers(d)
    serve, base = start_serve(d)
    try:
        before = [push_image(base, "outage/app", f"before{i}")[0] for i in range(2)]
        wait_until(lambda: {e["target"].get("digest") for e in hook.events()} >= set(before),
                   15, "events before the outage")
        private_rabbit.stop()
        during, took = [], []
        for i in range(4):
            started = time.monotonic()
            during.append(push_image(base, "outage/app", f"during{i}")[0])
            took.append(time.monotonic() - started)
        # Three requests per push (config, layer, manifest), each with one event.
        assert max(took) < 3 * 2.5, took
        private_rabbit.start()
        wanted = set(before + during)
        wait_until(lambda: {e["target"].get("digest") for e in hook.events()} >= wanted, 40,
                   "every manifest push event after the outage")
        time.sleep(0.5)
        pushes = [e for e in hook.events() if e["action"] == "push"]
        assert len({e["id"] for e in pushes}) == 6 * 3  # nothing lost: blobs too
        # Both gunicorn workers spooled; one flushed at a time, so nothing went out twice.
        assert len(pushes) == 6 * 3
    finally:
        serve.stop()
