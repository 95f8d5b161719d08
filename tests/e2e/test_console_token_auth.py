"""Signing in to the console with token auth: the console gets tokens from the realm with the
user's credentials, as docker does, and reads as that user (over HTTP; the browser tests are in
test_console.py)."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.e2e.console_support import answers, sign_in
from tests.e2e.oci import write_image
from tests.e2e.tokenserver import TokenServer
from tests.integration.notifications.support import wait_until

pytestmark = pytest.mark.e2e

USERS = {"alice": "alice-pw", "carol": "carol-pw"}
POLICY = {"alice": [("demo/*", {"pull", "push"})], "carol": [("private/*", {"pull"})]}
REPO = "demo/app"


@pytest.fixture
def token_console(start_registry, skopeo, tmp_path):
    with TokenServer(tmp_path / "tokens", USERS, POLICY) as tokens:
        port = free_port()
        registry = start_registry(extra_config={
            "auth": tokens.registry_auth_config(),
            "http": {"secret": "token-console-secret"},
            "console": {"addr": f"127.0.0.1:{port}", "operators": ["alice"]},
        })
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{url}/login"), 30, "the console")
        write_image(tmp_path / "layout", "v1", [4000])
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{USERS['alice']}",
               f"oci:{tmp_path / 'layout'}:v1", f"docker://{registry.host}/{REPO}:v1")
        yield url, tokens


def test_sign_in_gets_a_token_from_the_realm_and_reads_as_the_user(token_console):
    url, tokens = token_console
    _, refused = sign_in(url, "alice", "wrong")
    assert refused.status_code == 401

    session, r = sign_in(url, "alice", USERS["alice"])
    assert r.status_code == 303, r.text
    assert any(q["user"] == "alice" for q in tokens.requests)  # the realm saw her credentials

    repo = session.get(f"{url}/api/repositories/{REPO}")
    assert repo.status_code == 200, repo.text
    assert [t["name"] for t in repo.json()["tags"]] == ["v1"]
    assert any(q["user"] == "alice" and f"repository:{REPO}:pull" in q["scopes"]
               for q in tokens.requests), tokens.requests

    # The catalog needs registry:catalog:*, which this token server grants nobody: the page
    # says so and offers to open a repository by name instead of failing.
    page = session.get(f"{url}/repositories")
    assert page.status_code == 200 and "open one by name" in page.text


def test_a_user_the_realm_gives_no_access_to_a_repository_is_refused_by_the_registry(
        token_console):
    url, _ = token_console
    session, r = sign_in(url, "carol", USERS["carol"])
    assert r.status_code == 303
    assert session.get(f"{url}/api/repositories/{REPO}").status_code == 403
    assert session.get(f"{url}/repositories/{REPO}").status_code == 403
    assert session.get(f"{url}/api/session").json()["user"] == "carol"  # still signed in
