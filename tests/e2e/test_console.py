"""The web console in a real browser (Playwright driving Debian's Chromium) against a real
``registry serve`` that starts the console beside itself (embedded mode, ``console.addr``),
with htpasswd users, skopeo pushing and pulling, and a real webhook receiver.

alice is an operator, bob only reads. Screenshots of every page go to tests/artifacts/console/.
The pages drawn on the delivery history are in test_console_deliveries.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, skopeo_runner
from tests.e2e.browser import chromium, screenshot_dir
from tests.e2e.console_support import (
    SECRET,
    USERS,
    AttackerSite,
    answers,
    submit_form,
    write_htpasswd,
)
from tests.e2e.console_support import signed_in as signed_in_as
from tests.e2e.oci import OCI_MANIFEST, sha256, write_image, write_index
from tests.e2e.procs import RegistryProcess
from tests.integration.notifications.support import Receiver, endpoint, wait_until

pytestmark = pytest.mark.e2e

REPO, MULTI = "demo/app", "demo/multi"
SBOM_TYPE = "application/spdx+json"


def push_sbom(url: str, repo: str, subject_digest: str, subject_size: int) -> str:
    """An SPDX document referring to ``subject_digest`` (a referrer), pushed over HTTP."""
    auth = ("alice", USERS["alice"])

    def blob(data: bytes) -> str:
        digest = sha256(data)
        r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": digest},
                          data=data, auth=auth)
        assert r.status_code == 201, r.text
        return digest

    document = b'{"spdxVersion": "SPDX-2.3", "name": "demo"}'
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SBOM_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": blob(b"{}"),
                   "size": 2},
        "layers": [{"mediaType": SBOM_TYPE, "digest": blob(document), "size": len(document)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
    }).encode()
    digest = sha256(manifest)
    r = requests.put(f"{url}/v2/{repo}/manifests/{digest}", data=manifest, auth=auth,
                     headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return digest


class Stack:
    def __init__(self, registry: RegistryProcess, console_url: str, receiver: Receiver,
                 skopeo, images: dict, shots: Path):
        self.registry = registry
        self.console = console_url
        self.receiver = receiver
        self.skopeo = skopeo
        self.images = images
        self.shots = shots

    def tags(self, repo: str) -> list[str]:
        r = requests.get(f"{self.registry.url}/v2/{repo}/tags/list",
                         auth=("alice", USERS["alice"]))
        return r.json()["tags"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    receiver = Receiver()
    console_port = free_port()
    registry = RegistryProcess(
        kind="ours", root=tmp / "storage", workdir=tmp, htpasswd=write_htpasswd(tmp / "htpasswd"),
        extra_config={
            "http": {"secret": SECRET},
            "notifications": {"endpoints": [endpoint("hook", receiver.url)]},
            "console": {"addr": f"127.0.0.1:{console_port}", "operators": ["alice"]},
        })
    registry.start()
    console_url = f"http://127.0.0.1:{console_port}"
    try:
        wait_until(lambda: answers(f"{console_url}/login"), 30, "the console")
        skopeo = skopeo_runner(tmp / "home")
        layout = tmp / "layout"
        images = {
            "v1": write_image(layout, "v1", [3000, 5000]),
            "v2": write_image(layout, "v2", [2000]),
            "amd64": write_image(layout, "amd64", [1500]),
            "arm64": write_image(layout, "arm64", [1700]),
        }
        write_index(layout, "1.0", {"linux/amd64": images["amd64"],
                                    "linux/arm64": images["arm64"]})
        creds = f"alice:{USERS['alice']}"
        for src, dest in (("v1", f"{REPO}:v1"), ("v1", f"{REPO}:latest"),
                          ("v2", f"{REPO}:v2"), ("1.0", f"{MULTI}:1.0")):
            skopeo("copy", "--all", "--dest-tls-verify=false", "--dest-creds", creds,
                   f"oci:{layout}:{src}", f"docker://{registry.host}/{dest}")
        v1 = images["v1"]
        push_sbom(registry.url, REPO, v1.manifest_digest, len(v1.manifest))
        yield Stack(registry, console_url, receiver, skopeo, images, screenshot_dir("console"))
    except BaseException:
        print(registry.log_text())
        raise
    finally:
        registry.stop()
        receiver.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def signed_in(browser, stack: Stack, user: str, **context_options):
    return signed_in_as(browser, stack.console, user, **context_options)


def pull_events(receiver: Receiver, repo: str) -> list[dict]:
    return [e for e in receiver.events()
            if e.get("action") == "pull" and e["target"].get("repository") == repo]


def test_sign_in_and_see_the_repository_its_layers_and_referrers(browser, stack):
    context, page = signed_in(browser, stack, "alice")
    try:
        rows = page.locator("[data-testid=repositories] tbody tr")
        assert rows.count() == 2
        assert "demo/app" in rows.nth(0).inner_text()
        page.screenshot(path=str(stack.shots / "repositories.png"), full_page=True)

        page.fill("input[name=q]", "multi")
        page.click("form.search button")
        assert page.locator("[data-testid=repositories] tbody tr").count() == 1

        page.goto("/repositories/demo/app")
        v1 = stack.images["v1"]
        tag = page.locator("article[data-tag=v1]")
        layers = tag.locator("[data-testid=layers]").inner_text()
        for digest in v1.layer_digests:
            assert digest in layers
        assert "docker pull 127.0.0.1:" in tag.locator("[data-testid=pull-command]").inner_text()
        assert "sbom" in tag.locator("section.referrers").inner_text()
        assert "Same digest as: latest" in tag.inner_text()
        assert page.locator("article.tag").count() == 3
        page.screenshot(path=str(stack.shots / "repository.png"), full_page=True)

        page.goto("/repositories/demo/multi")
        text = page.locator("article[data-tag='1.0']").inner_text()
        assert "linux/amd64" in text and "linux/arm64" in text
        page.screenshot(path=str(stack.shots / "repository-index.png"), full_page=True)

        api = page.request.get("/api/repositories/demo/app").json()
        assert [t["name"] for t in api["tags"]] and api["tags"][0]["images"][0]["layers"]
        # The list's size (from the manifests' descriptors alone) is every manifest and blob the
        # tags reach, once: what the repository page found reading configs too (no index here).
        blobs = {}
        for tag in api["tags"]:
            for image in tag["images"]:
                blobs[image["digest"]] = image["size"]
                blobs[image["config"]["digest"]] = image["config"]["size"]
                blobs.update((layer["digest"], layer["size"]) for layer in image["layers"])
        (item,) = page.request.get("/api/repositories", params={"q": "demo/app"}).json()["items"]
        assert item["tags"] == 3 and item["size"] == sum(blobs.values())
    finally:
        context.close()


def test_a_wrong_password_is_refused(browser, stack):
    context = browser.new_context(base_url=stack.console)
    page = context.new_page()
    try:
        page.goto("/login")
        page.screenshot(path=str(stack.shots / "login.png"), full_page=True)
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "not-her-password")
        with page.expect_response("**/login") as answer:
            page.click("button[type=submit]")
        assert answer.value.status == 401
        assert "did not accept" in page.locator("[role=alert]").inner_text()
        assert page.request.get("/api/session").status == 401
    finally:
        context.close()


def test_browsing_a_tag_fires_no_pull_webhook_while_a_skopeo_pull_does(browser, stack, tmp_path):
    before = len(pull_events(stack.receiver, REPO))
    context, page = signed_in(browser, stack, "bob")
    try:
        page.goto("/repositories/demo/app")  # HEADs and GETs manifests, GETs config blobs
        page.request.get("/api/repositories/demo/app")
        # A pull through a real client afterwards: its events arrive after any the browsing
        # would have caused (one endpoint queue, delivered in order).
        stack.skopeo("copy", "--src-tls-verify=false", "--src-creds", f"bob:{USERS['bob']}",
                     f"docker://{stack.registry.host}/{REPO}:v2", f"oci:{tmp_path / 'out'}:v2")
        wait_until(lambda: len(pull_events(stack.receiver, REPO)) > before, 20,
                   "the skopeo pull's webhook")
        time.sleep(0.5)  # any straggler of the same burst
        agents = {e["request"]["useragent"].split("/")[0]
                  for e in pull_events(stack.receiver, REPO)[before:]}
        assert agents and all("skopeo" in a.lower() or "containers" in a.lower()
                              for a in agents), agents
        assert not any("console" in a for a in agents), agents
    finally:
        context.close()


def test_a_non_operator_is_refused_an_action_even_with_a_valid_csrf_token(browser, stack):
    context, page = signed_in(browser, stack, "bob")
    try:
        page.goto("/repositories/demo/app")
        assert page.locator("form.delete").count() == 0  # no delete button for readers
        token = page.locator("meta[name=csrf-token]").get_attribute("content")
        assert token
        with page.expect_response(f"{stack.console}/tags/delete") as answer:
            submit_form(page, "/tags/delete", {"csrf_token": token, "repository": REPO,
                                                "tag": "v2", "confirm": "yes"})
        assert answer.value.status == 403
        assert "only operators" in answer.value.text()
        page.wait_for_load_state()
        page.screenshot(path=str(stack.shots / "forbidden.png"), full_page=True)
        api = page.request.delete("/api/tags", params={"repository": REPO, "tag": "v2"},
                                  headers={"X-CSRF-Token": token})
        assert api.status == 403
        assert "v2" in stack.tags(REPO)
    finally:
        context.close()


def test_a_forged_form_without_the_csrf_token_is_refused(browser, stack):
    context, page = signed_in(browser, stack, "alice")  # an operator, signed in
    fields = {"repository": REPO, "tag": "v2", "confirm": "yes"}
    attacker = AttackerSite(f"{stack.console}/tags/delete", fields)
    try:
        with page.expect_response(f"{stack.console}/tags/delete") as answer:
            page.goto(attacker.url)
        assert answer.value.status == 403
        page.goto("/repositories")
        with page.expect_response(f"{stack.console}/tags/delete") as answer:
            submit_form(page, "/tags/delete", {**fields, "csrf_token": "forged"})
        assert answer.value.status == 403
        assert "CSRF" in answer.value.text()
        assert "v2" in stack.tags(REPO)
    finally:
        attacker.close()
        context.close()


def test_an_operator_deletes_a_tag_after_a_warning_about_shared_digests(browser, stack):
    # Without JavaScript: the server's confirmation page.
    context, page = signed_in(browser, stack, "alice", java_script_enabled=False)
    try:
        page.goto("/repositories/demo/app")
        page.locator("article[data-tag=v2] form.delete button").click()
        page.wait_for_url(f"{stack.console}/tags/delete")
        assert "No other tag names this digest" in page.content()
        page.screenshot(path=str(stack.shots / "confirm-delete.png"), full_page=True)
        page.locator("form button.danger").click()
        page.wait_for_url(f"{stack.console}/repositories/demo/app?deleted=v2")
        assert "v2" not in stack.tags(REPO)
    finally:
        context.close()

    # With JavaScript: a dialog that warns that v1 shares the digest of latest.
    context, page = signed_in(browser, stack, "alice")
    try:
        page.goto("/repositories/demo/app")
        messages: list[str] = []

        def accept(dialog) -> None:
            messages.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        page.locator("article[data-tag=latest] form.delete button").click()
        page.wait_for_url(f"{stack.console}/repositories/demo/app?deleted=latest")
        assert messages and "Other tags share its digest (v1)" in messages[0]
        assert sorted(stack.tags(REPO)) == ["v1"]
        page.screenshot(path=str(stack.shots / "repository-after-delete.png"), full_page=True)
    finally:
        context.close()
