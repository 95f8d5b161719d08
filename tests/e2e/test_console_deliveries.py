"""The console's pages drawn on the delivery history, in a real browser (Playwright driving
Debian's Chromium), against a real ``registry serve`` in embedded mode: its notifier delivers to
two real receivers and writes the history (SQLite under the storage root), the console beside it
reads that history and acts through the shared operations.

``hook`` answers 503 while its switch says so (threshold 2, 50 ms backoff: dead in a moment);
``audit`` always answers 200. alice is an operator, bob only reads. Screenshots of every page go
to tests/artifacts/console-history/.
"""

from __future__ import annotations

import json
import threading

import pytest
import requests

from tests.conftest import free_port, skopeo_runner
from tests.e2e.browser import chromium, screenshot_dir
from tests.e2e.console_support import (
    SECRET,
    USERS,
    AttackerSite,
    answers,
    sign_in,
    signed_in,
    submit_form,
    write_htpasswd,
)
from tests.e2e.oci import OCI_MANIFEST, write_image
from tests.e2e.procs import RegistryProcess
from tests.integration.notifications.support import Receiver, endpoint, wait_until

pytestmark = pytest.mark.e2e

REPO = "shop/api"
HOOK_TOKEN = "Bearer hook-secret-token-7f3a"


class Switch:
    """A receiver's answer: 200, or 503 with a body while ``failing``."""

    def __init__(self) -> None:
        self.failing = False
        self.lock = threading.Lock()

    def respond(self, _record, _n):
        with self.lock:
            if self.failing:
                return 503, {"Retry-After": "0"}, b"down for maintenance"
            return 200, {}, b"ok"

    def set(self, failing: bool) -> None:
        with self.lock:
            self.failing = failing


class Stack:
    def __init__(self, registry: RegistryProcess, console: str, hook: Receiver, switch: Switch,
                 audit: Receiver, shots, images: dict):
        self.registry = registry
        self.console = console
        self.hook = hook
        self.switch = switch
        self.audit = audit
        self.shots = shots
        self.images = images
        self.api, _ = sign_in(console, "alice", USERS["alice"])  # the console's JSON, as alice

    def retag(self, source: str, tag: str) -> None:
        """A manifest push by a plain HTTP client: one event, ``REPO:tag``."""
        auth = ("alice", USERS["alice"])
        manifest = requests.get(f"{self.registry.url}/v2/{REPO}/manifests/{source}", auth=auth,
                                headers={"Accept": OCI_MANIFEST})
        r = requests.put(f"{self.registry.url}/v2/{REPO}/manifests/{tag}", auth=auth,
                         data=manifest.content, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text

    def push_event(self, receiver: Receiver, tag: str, timeout: float = 30) -> dict:
        """The manifest push event of ``REPO:tag`` as ``receiver`` got it (audit's CloudEvents
        carry it as their ``data``)."""
        def found():
            events = [body.get("data", body) for body in receiver.events()]
            return next((e for e in events
                         if e.get("action") == "push" and e["target"].get("tag") == tag
                         and e["target"].get("repository") == REPO), None)
        return wait_until(found, timeout, f"the push of {REPO}:{tag} at the receiver", 0.1)

    def delivery(self, event_id: str) -> dict:
        r = self.api.get(f"{self.console}/api/deliveries/{event_id}")
        assert r.status_code in (200, 404), r.text
        return {d["endpoint"]: d for d in r.json()["deliveries"]} if r.status_code == 200 else {}

    def wait_state(self, event_id: str, endpoint: str, state: str, timeout: float = 30) -> dict:
        def reached():
            d = self.delivery(event_id).get(endpoint)
            return d if d and d["state"] == state else None
        return wait_until(reached, timeout, f"{endpoint} {state} for {event_id}", 0.2)

    def hook_got(self, event_id: str) -> int:
        return sum(1 for e in self.hook.events() if e.get("id") == event_id)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console-history")
    switch = Switch()
    hook, audit = Receiver(respond=switch.respond), Receiver()
    console_port = free_port()
    registry = RegistryProcess(
        kind="ours", root=tmp / "storage", workdir=tmp, htpasswd=write_htpasswd(tmp / "htpasswd"),
        extra_config={
            "http": {"secret": SECRET},
            "notifications": {"endpoints": [
                endpoint("hook", hook.url, threshold=2, backoff="50ms",
                         headers={"Authorization": [HOOK_TOKEN]},
                         ignore={"actions": ["pull"]}),
                endpoint("audit", audit.url, format="cloudevents"),
            ]},
            "console": {"addr": f"127.0.0.1:{console_port}", "operators": ["alice"]},
        })
    registry.start()
    console = f"http://127.0.0.1:{console_port}"
    try:
        wait_until(lambda: answers(f"{console}/login"), 30, "the console")
        skopeo = skopeo_runner(tmp / "home")
        layout = tmp / "layout"
        images = {"v1": write_image(layout, "v1", [3000, 2000])}
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{USERS['alice']}",
               f"oci:{layout}:v1", f"docker://{registry.host}/{REPO}:v1")
        yield Stack(registry, console, hook, switch, audit, screenshot_dir("console-history"),
                    images)
    except BaseException:
        print(registry.log_text())
        raise
    finally:
        registry.stop()
        hook.close()
        audit.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def alice(browser, stack):
    context, page = signed_in(browser, stack.console, "alice")
    yield page
    context.close()


def test_a_skopeo_push_shows_its_deliveries_on_the_tag_the_events_and_the_event_page(
        stack, alice):
    page = alice
    event = stack.push_event(stack.audit, "v1")
    stack.wait_state(event["id"], "hook", "delivered")
    stack.wait_state(event["id"], "audit", "delivered")

    page.goto(f"/repositories/{REPO}")
    tag = page.locator("article[data-tag=v1]")
    for digest in stack.images["v1"].layer_digests:  # the repository and its layers
        assert digest in tag.locator("[data-testid=layers]").inner_text()
    assert "pushed —" not in tag.inner_text()  # the push time, from the history
    caused = tag.locator("[data-testid=tag-deliveries]")
    row = caused.locator(f"tr[data-event-id='{event['id']}']")
    assert "hook: delivered" in row.inner_text() and "audit: delivered" in row.inner_text()
    stack.shot(page, "repository-deliveries")

    page.goto(f"/events?repository={REPO}&tag=v1")
    events = page.locator("[data-testid=events] tbody[data-event-id]")
    assert events.count() == 1
    assert "hook: delivered" in events.first.locator("td.fanout").inner_text()
    bodies = events.first.locator("pre.body")
    assert [bodies.nth(i).get_attribute("data-format") for i in range(3)] == \
        ["event", "envelope", "cloudevents"]
    assert json.loads(bodies.nth(0).text_content()) == event
    assert json.loads(bodies.nth(1).text_content()) == {"events": [event]}
    assert json.loads(bodies.nth(2).text_content())["data"] == event
    events.first.locator("details summary").click()
    stack.shot(page, "events")

    events.first.locator("td a").first.click()
    page.wait_for_url(f"**/deliveries/{event['id']}")
    hook = page.locator("section[data-endpoint=hook]")
    assert hook.locator("[data-testid=attempt-status]").first.inner_text() == "HTTP 200"
    curl = hook.locator("[data-testid=curl]").text_content()
    assert curl.startswith("curl -sS -X POST") and stack.hook.url in curl
    assert "Authorization: ***" in curl and "hook-secret" not in page.content()
    assert f'"id":"{event["id"]}"' in curl  # hook's format: the bare event
    stack.shot(page, "delivery")


def test_a_failing_receiver_shows_its_attempts_and_the_dead_letter_replayed_from_the_page(
        stack, alice):
    page = alice
    stack.switch.set(True)
    try:
        stack.retag("v1", "v2")
        event_id = stack.push_event(stack.audit, "v2")["id"]
        stack.wait_state(event_id, "hook", "dead")
    finally:
        stack.switch.set(False)  # the receiver is back; the dead letter waits for a replay

    page.goto(f"/deliveries/{event_id}")
    hook = page.locator("section[data-endpoint=hook]")
    assert hook.locator("[data-testid=delivery-state]").inner_text() == "dead"
    attempts = hook.locator("[data-testid=attempt]")
    assert attempts.count() == 2
    for i in range(2):
        assert attempts.nth(i).locator("[data-testid=attempt-status]").inner_text() == "HTTP 503"
        assert attempts.nth(i).locator("[data-testid=error-class]").inner_text() == "status"
    attempts.first.locator("details").nth(1).locator("summary").click()
    assert "down for maintenance" in attempts.first.inner_text()  # the receiver's answer
    stack.shot(page, "delivery-dead")

    page.goto("/deadletters?endpoint=hook&error_class=status&status=503")
    row = page.locator(f"[data-testid=deadletters] tr[data-event-id='{event_id}']")
    assert "status" in row.inner_text() and "503" in row.inner_text()
    stack.shot(page, "deadletters")
    before = stack.hook_got(event_id)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Replay").click()
    page.wait_for_url("**/deadletters?**done=replayed**")
    assert "Replayed 1 dead letter" in page.locator("[data-testid=notice]").inner_text()
    wait_until(lambda: stack.hook_got(event_id) > before, 30, "the replayed event at hook", 0.1)
    stack.wait_state(event_id, "hook", "delivered")
    page.goto(f"/deliveries/{event_id}")
    attempts = page.locator("section[data-endpoint=hook] [data-testid=attempt]")
    assert attempts.count() == 3  # the replay's attempt follows the two that failed
    assert attempts.nth(2).locator("[data-testid=attempt-status]").inner_text() == "HTTP 200"
    stack.shot(page, "delivery-replayed")


def test_a_paused_endpoint_holds_its_events_until_resumed_from_the_page(stack, alice):
    page = alice
    page.goto("/endpoints/hook")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_url("**/endpoints/hook?done=paused")
    assert page.locator("[data-testid=endpoint-state]").inner_text() == "paused"
    # A pause holds on every notifier within a second (one in flight may finish): the embedded
    # notifier says when it holds.
    wait_until(lambda: "WARNING endpoint paused endpoint=hook" in stack.registry.log_text(), 10,
               "the notifier to hold hook", 0.1)

    stack.retag("v1", "v3")
    event_id = stack.push_event(stack.audit, "v3")["id"]  # published and handled by now
    stack.wait_state(event_id, "hook", "paused")
    page.reload()
    assert page.locator("[data-testid=deliveries] tr[data-event-id='" + event_id + "']")\
        .locator(".state").inner_text() == "paused"
    stack.shot(page, "endpoint-paused")
    page.goto(f"/deliveries/{event_id}")
    assert "the endpoint is paused" in page.locator("section[data-endpoint=hook]").inner_text()
    assert stack.hook_got(event_id) == 0  # waiting in hook's queue

    page.goto("/endpoints/hook")
    page.get_by_role("button", name="Resume").click()
    page.wait_for_url("**/endpoints/hook?done=resumed")
    assert page.locator("[data-testid=endpoint-state]").inner_text() == "active"
    wait_until(lambda: stack.hook_got(event_id) == 1, 30, "the held event at hook", 0.1)
    stack.wait_state(event_id, "hook", "delivered")


def test_an_operator_sends_a_test_event_and_sees_its_attempt(stack, alice):
    page = alice
    page.goto("/endpoints/hook")
    page.get_by_role("button", name="Send a test event").click()
    page.wait_for_url("**/deliveries/**")
    event_id = page.url.rsplit("/", 1)[1]
    got = wait_until(lambda: [e for e in stack.hook.events() if e.get("id") == event_id], 30,
                     "the test event at hook", 0.1)
    assert got[0]["action"] == "test"
    stack.wait_state(event_id, "hook", "delivered")
    # The page follows a delivery still on its way (live tail) or shows it settled.
    attempt = page.locator("section[data-endpoint=hook] [data-testid=attempt-status]")
    attempt.first.wait_for(timeout=15_000)
    assert attempt.first.inner_text() == "HTTP 200"
    assert stack.audit.events() and all(e["id"] != event_id for e in stack.audit.events())


def test_resending_a_time_range_counts_first_then_sends_on_confirmation(stack, alice):
    page = alice
    page.goto("/endpoints/hook")
    form = page.locator("form.range")
    form.locator("input[name=since]").fill("1h")
    form.locator("select[name=state]").select_option("delivered")
    form.locator("input[name=repository]").fill(REPO)
    before = len(stack.hook.events())
    form.get_by_role("button", name="Count deliveries…").click()
    page.wait_for_url("**/endpoints/hook/resend")
    count = int(page.locator("[data-testid=count] strong").inner_text())
    expected = stack.api.get(f"{stack.console}/api/deliveries", params={
        "endpoint": "hook", "state": "delivered", "repository": REPO, "since": "1h",
        "limit": 500}).json()["items"]
    assert count == len(expected) >= 3  # v1's blobs and manifest, v2, v3
    assert len(stack.hook.events()) == before  # counting sent nothing
    stack.shot(page, "confirm-resend")
    page.get_by_role("button", name=f"Resend {count}").click()
    page.wait_for_url(f"**/endpoints/hook?done=resent&count={count}")
    wait_until(lambda: len(stack.hook.events()) >= before + count, 30, "the resent events", 0.1)
    resent = {e["id"] for e in stack.hook.events()[before:]}
    assert resent == {d["event_id"] for d in expected}


def test_the_overview_shows_the_figures_and_follows_new_events(stack, alice):
    page = alice
    page.goto("/")
    figure = page.locator("[data-field=events]")
    shown = int(figure.inner_text())
    assert shown > 0
    assert page.locator("[data-testid=events-chart] rect").count() == 60
    assert page.locator("[data-testid=endpoints] tr[data-endpoint=hook]").count() == 1
    assert page.locator("[data-testid=notifiers] tbody tr").first.inner_text().count("alive") == 1
    stack.shot(page, "overview")
    stack.retag("v1", "v4")  # a new event: the page's poll of /api/overview shows it
    wait_until(lambda: int(figure.inner_text()) > shown, 20, "the overview's live update", 0.2)

    page.goto("/endpoints")
    assert page.locator("[data-testid=endpoints] tbody tr").count() == 2
    stack.shot(page, "endpoints")
    page.goto("/endpoints/audit")
    stack.shot(page, "endpoint")


def test_purging_dead_letters_counts_first_and_needs_confirmation(stack, alice):
    page = alice
    stack.switch.set(True)
    try:
        r = stack.api.post(f"{stack.console}/api/endpoints/hook/test",
                           headers={"X-CSRF-Token": stack.api.get(
                               f"{stack.console}/api/session").json()["csrf_token"]})
        assert r.status_code == 200, r.text
        event_id = r.json()["event_id"]
        stack.wait_state(event_id, "hook", "dead")
    finally:
        stack.switch.set(False)
    page.goto("/deadletters?endpoint=hook")
    assert page.locator(f"tr[data-event-id='{event_id}']").count() == 1
    page.get_by_role("button", name="Purge all matching…").click()
    page.wait_for_url("**/deadletters/purge")
    assert page.locator("[data-testid=count] strong").inner_text() == "1"
    stack.shot(page, "confirm-purge")
    page.get_by_role("button", name="Purge 1").click()
    page.wait_for_url("**/deadletters?**done=purged**")
    assert page.locator(f"tr[data-event-id='{event_id}']").count() == 0
    assert stack.hook_got(event_id) == 2  # the two failed attempts; nothing since


def test_a_non_operator_is_refused_every_action(browser, stack):
    context, page = signed_in(browser, stack.console, "bob")
    try:
        page.goto("/endpoints/hook")
        assert page.get_by_role("button", name="Pause").count() == 0  # no buttons for readers
        token = page.locator("meta[name=csrf-token]").get_attribute("content")
        for action, fields in (("/endpoints/hook/pause", {}),
                               ("/deadletters/replay", {"scope": "matching"})):
            with page.expect_response(f"{stack.console}{action}") as answer:
                submit_form(page, action, {"csrf_token": token, **fields})
            assert answer.value.status == 403
            assert "only operators" in answer.value.text()
        page.wait_for_load_state()
        stack.shot(page, "forbidden")
        api = page.request.post("/api/endpoints/hook/pause", headers={"X-CSRF-Token": token})
        assert api.status == 403
        assert stack.api.get(f"{stack.console}/api/endpoints/hook").json()[
            "endpoint"]["state"] == "active"
    finally:
        context.close()


def test_forged_forms_without_the_csrf_token_are_refused(browser, stack, alice):
    page = alice
    with AttackerSite(f"{stack.console}/endpoints/hook/pause", {}) as attacker:
        with page.expect_response(f"{stack.console}/endpoints/hook/pause") as answer:
            page.goto(attacker.url)
        assert answer.value.status == 403 and "CSRF" in answer.value.text()
    assert stack.api.get(f"{stack.console}/api/endpoints/hook").json()[
        "endpoint"]["state"] == "active"

    # Login CSRF: another site signing a browser in as the attacker's account.
    context = browser.new_context(base_url=stack.console)
    try:
        victim = context.new_page()
        fields = {"username": "bob", "password": USERS["bob"]}
        with AttackerSite(f"{stack.console}/login", fields) as attacker:
            with victim.expect_response(f"{stack.console}/login") as answer:
                victim.goto(attacker.url)
            assert answer.value.status == 403
        assert victim.request.get("/api/session").status == 401  # not signed in
        victim.goto("/login")
        stack.shot(victim, "login")
    finally:
        context.close()
