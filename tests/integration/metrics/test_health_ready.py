"""``/debug/health`` is liveness, ``/debug/ready`` readiness (storage and broker), and the API
keeps serving, pushes included, while the broker is down."""

from __future__ import annotations

import os
import time

import pytest
import requests

from tests.conftest import free_port
from tests.integration.metrics.live import Process, Receiver, push_image, serve_config, value

pytestmark = pytest.mark.integration


def notifications(broker_url: str, receiver: Receiver) -> dict:
    return {"notifications": {
        "broker": {"url": broker_url},
        "endpoints": [{"name": "hook", "url": f"{receiver.url}/status/200", "timeout": "1s",
                       "threshold": 2, "backoff": "100ms"}]}}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def ready(proc: Process) -> requests.Response:
    return requests.get(f"{proc.debug_url}/debug/ready", timeout=10)


def test_broker_outage_degrades_readiness_but_keeps_serving(tmp_path, receiver):
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens there
    config = serve_config(tmp_path / "root", **notifications(closed, receiver))
    proc = Process("serve", config, tmp_path, "serve")
    proc.start()
    try:
        assert requests.get(f"{proc.url}/v2/", timeout=10).status_code == 200
        live = requests.get(f"{proc.debug_url}/debug/health", timeout=10)
        assert live.status_code == 200 and live.json() == {"status": "ok"}
        r = ready(proc)
        # Still ready (events spool), but the report names the broker as degraded.
        assert r.status_code == 200
        report = r.json()
        assert report["status"] == "degraded" and report["degraded"] == ["broker"]
        assert "failed" not in report
        assert report["checks"]["storage"] == "ok"
        assert "refused" in report["checks"]["broker"].lower(), report

        # A push still succeeds: its events wait in the spool for the broker.
        started = time.monotonic()
        push_image(proc.url, "outage/app", "v1", os.urandom(4096))
        assert time.monotonic() - started < 15
        assert requests.get(f"{proc.url}/v2/outage/app/manifests/v1", timeout=10,
                            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
                            ).status_code == 200
        text = proc.scrape()
        assert value(text, "registry_events_spooled_total") >= 3  # two blobs and the manifest
        assert value(text, "registry_events_spool_depth") >= 3
        assert value(text, "registry_events_published_total") == 0
        assert ready(proc).json()["status"] == "degraded"
    finally:
        proc.stop()


def test_ready_with_broker_and_storage_then_not_when_storage_breaks(tmp_path, receiver,
                                                                      rabbitmq_url):
    root = tmp_path / "root"
    config = serve_config(root, **notifications(rabbitmq_url, receiver))
    proc = Process("serve", config, tmp_path, "serve")
    proc.start(ready_path="/debug/ready")
    try:
        r = ready(proc)
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "checks": {"storage": "ok", "broker": "ok"}}

        # The storage root turns into a file (a lost mount shows up much like this).
        root.rename(tmp_path / "gone")
        root.write_text("not a directory")
        deadline = time.monotonic() + 10
        while (r := ready(proc)).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)  # answers are cached for a few seconds
        assert r.status_code == 503 and r.json()["failed"] == ["storage"], r.text
        assert requests.get(f"{proc.debug_url}/debug/health", timeout=10).status_code == 200
    finally:
        proc.stop()


def test_readiness_without_notifications_checks_storage_only(tmp_path):
    proc = Process("serve", serve_config(tmp_path / "root"), tmp_path, "serve")
    proc.start(ready_path="/debug/ready")
    try:
        checks = ready(proc).json()["checks"]
        assert checks["storage"] == "ok" and checks["broker"].startswith("not used")
    finally:
        proc.stop()
