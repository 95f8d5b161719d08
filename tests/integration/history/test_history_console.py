"""The web console reading the delivery history, on SQLite and on PostgreSQL (the browser tests
run on the embedded SQLite only), and its pages when there is no history to read: disabled, or a
database that does not answer. The console app runs in-process (Falcon's test client); the
registry has no auth, so everyone is ``anonymous`` (an operator here)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
import yaml

from services.console.access.session import COOKIE
from services.console.app import create_app
from shared.config import load_config
from shared.history import open_store
from shared.history.records import AttemptRecord, Settled
from shared.history.writes import write_batch
from tests.conftest import free_port

pytestmark = pytest.mark.integration

SECRET_HEADER = "Bearer console-history-secret"


def console(tmp_path: Path, history: dict[str, Any]) -> tuple[Any, falcon.testing.TestClient]:
    config_path = tmp_path / "config.yml"
    config_path.write_text(yaml.safe_dump({
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "root")}},
        "http": {"addr": f"127.0.0.1:{free_port()}", "secret": "history-console-secret"},
        "notifications": {"history": history, "endpoints": [
            {"name": "ci", "url": "http://user:pw@127.0.0.1:9/hook",
             "headers": {"Authorization": [SECRET_HEADER]}},
            {"name": "audit", "url": "http://127.0.0.1:9/audit", "format": "envelope"},
        ]},
        "console": {"operators": ["anonymous"]},
    }))
    config = load_config(str(config_path))
    return config, falcon.testing.TestClient(create_app(config))


def session(client: falcon.testing.TestClient) -> dict[str, str]:
    """The anonymous session's cookie (a first GET makes one)."""
    r = client.simulate_get("/api/session")
    return {"Cookie": f"{COOKIE}={r.cookies[COOKIE].value}"}


def event(repository: str, tag: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                                time.gmtime()),
            "action": "push", "target": {"repository": repository, "tag": tag,
                                         "digest": "sha256:" + "ab" * 32},
            "actor": {"name": "alice"}, "source": {"addr": "registry:5000"}}


def record(config, items: list[Settled]) -> None:
    with open_store(config).begin() as connection:
        write_batch(connection, items, "test-notifier:1", config.notifications.endpoints)


def test_the_console_reads_what_the_notifiers_wrote(tmp_path, history):
    config, client = console(tmp_path, history)
    ok, dead = event("demo/app", "v1"), event("demo/app", "v2")
    now = time.time()
    headers = {"Content-Type": "application/json", "Authorization": "***"}
    record(config, [
        Settled("ci", ok, "manifest.push", "delivered", now,
                AttemptRecord(now, 12.0, headers, 200, {"Server": "r"}, "thanks"), fanout=True),
        Settled("ci", dead, "manifest.push", "dead", now,
                AttemptRecord(now, 3.0, headers, 503, {}, "down", "status", "HTTP 503"),
                fanout=True),
    ])
    cookie = session(client)

    page = client.simulate_get("/events", params={"repository": "demo/*"}, headers=cookie)
    assert page.status_code == 200
    assert ok["id"] in page.text and dead["id"] in page.text
    found = client.simulate_get("/api/events", params={"tag": "v2"}, headers=cookie).json
    assert [e["id"] for e in found["items"]] == [dead["id"]]
    assert found["items"][0]["deliveries"] == {"audit": "pending", "ci": "dead"}  # the fan-out
    assert set(found["items"][0]["bodies"]) == {"event", "envelope", "cloudevents"}

    detail = client.simulate_get(f"/api/deliveries/{dead['id']}", headers=cookie).json
    ci = next(d for d in detail["deliveries"] if d["endpoint"] == "ci")
    assert ci["state"] == "dead" and ci["attempts"][0]["error_class"] == "status"
    assert "Authorization: ***" in ci["curl"] and "user:pw" not in ci["curl"]
    page = client.simulate_get(f"/deliveries/{dead['id']}", headers=cookie)
    assert "HTTP 503" in page.text and SECRET_HEADER not in page.text

    overview = client.simulate_get("/api/overview", headers=cookie).json
    assert overview["figures"]["events"] == 2
    assert overview["figures"]["success_rate"] == 0.5
    dead_rows = client.simulate_get("/api/deliveries", params={"state": "dead"},
                                    headers=cookie).json["items"]
    assert [r["event_id"] for r in dead_rows] == [dead["id"]]

    # Pause and resume from the console: the shared control every notifier reads.
    token = client.simulate_get("/api/session", headers=cookie).json["csrf_token"]
    act = {**cookie, "X-CSRF-Token": token}
    assert client.simulate_post("/api/endpoints/ci/pause", headers=act).json["changed"] is True
    assert client.simulate_get("/api/endpoints/ci", headers=cookie).json[
        "endpoint"]["paused_by"] == "console:anonymous"
    found = client.simulate_get("/api/events", params={"tag": "v1"}, headers=cookie).json
    assert found["items"][0]["deliveries"]["audit"] == "pending"  # audit is not paused
    assert client.simulate_post("/api/endpoints/ci/resume", headers=act).json["changed"] is True


def test_an_unknown_event_or_endpoint_is_the_same_404_on_a_page_and_its_api_twin(tmp_path,
                                                                                  history):
    config, client = console(tmp_path, history)
    known = event("demo/app", "v1")
    now = time.time()
    record(config, [Settled("ci", known, "manifest.push", "delivered", now, fanout=True)])
    cookie = session(client)
    token = client.simulate_get("/api/session", headers=cookie).json["csrf_token"]
    act = {**cookie, "X-CSRF-Token": token}
    missing = str(uuid.uuid4())

    def refusal(r) -> tuple[int, str]:
        return r.status_code, r.text  # the API's {"errors": [{"code": ...}]} or the page

    for path in (f"/deliveries/{missing}", f"/api/deliveries/{missing}"):
        status, text = refusal(client.simulate_get(path, headers=cookie))
        assert status == 404 and "EVENT_UNKNOWN" in text, (path, text)
    for path in (f"/deliveries/{known['id']}/resend", f"/api/deliveries/{known['id']}/resend",
                 "/endpoints/nope/pause", "/api/endpoints/nope/pause"):
        status, text = refusal(client.simulate_post(path, headers=act,
                                                    params={"endpoint": "nope"}))
        assert status == 404 and "ENDPOINT_UNKNOWN" in text, (path, text)
    status, text = refusal(client.simulate_get("/api/endpoints/nope", headers=cookie))
    assert status == 404 and "ENDPOINT_UNKNOWN" in text


@pytest.mark.parametrize("history, reason", [
    ({"disabled": True}, "disabled"),
    # Nothing listens there: the connection is refused at once.
    ({"url": "postgresql://registry:hunter2-pw@127.0.0.1:9/registry"}, "127.0.0.1:9"),
])
def test_without_a_readable_history_every_page_says_why_and_none_fails(tmp_path, history,
                                                                         reason):
    _, client = console(tmp_path, history)
    cookie = session(client)
    for path in ("/", "/endpoints", "/endpoints/ci", "/deadletters"):
        page = client.simulate_get(path, headers=cookie)
        assert page.status_code == 200, (path, page.text)  # the broker's part still shows
        assert "hunter2" not in page.text
    overview = client.simulate_get("/", headers=cookie)
    assert 'data-testid="history-unavailable"' in overview.text and reason in overview.text
    for path in ("/events", f"/deliveries/{uuid.uuid4()}"):
        page = client.simulate_get(path, headers=cookie)
        assert page.status_code == 503, (path, page.text)
        assert 'data-testid="history-unavailable"' in page.text and reason in page.text
        assert "hunter2" not in page.text
    api = client.simulate_get("/api/events", headers=cookie)
    assert api.status_code == 503
    assert api.json["errors"][0]["code"] == "HISTORY_UNAVAILABLE"
    token = client.simulate_get("/api/session", headers=cookie).json["csrf_token"]
    refused = client.simulate_post("/api/endpoints/ci/pause",
                                   headers={**cookie, "X-CSRF-Token": token})
    assert refused.status_code == 503 and "hunter2" not in refused.text
