"""Token authentication end to end: a real ``registry serve`` with ``auth.token`` trusting a
small token server (tests/e2e/tokenserver.py), driven by skopeo and by plain HTTP.

Policy: alice may pull and push ``demo/*``; bob may only pull it. The registry's events carry
the token's subject as actor, checked through a real webhook receiver fed by the notifier that
``registry serve`` starts beside itself on the embedded broker.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.e2e.oci import OCI_MANIFEST, Image, read_image, write_image
from tests.e2e.proxy import RecordingProxy
from tests.e2e.test_skopeo import assert_same_image
from tests.e2e.tokenserver import Signer, TokenServer, access

pytestmark = pytest.mark.e2e

USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
POLICY = {
    "alice": [("demo/*", {"pull", "push"})],
    "bob": [("demo/*", {"pull"})],
    "carol": [("private/*", {"pull", "push"})],
}
REPO = "demo/app"
EVENT_WAIT_SECONDS = 20


# ------------------------------------------------------------------ helpers


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="r",service="s"`` -> ("Bearer", {"realm": "r", "service": "s"})."""
    scheme, _, params = value.partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', params))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# The spec's error code for each refusal status: 401 asks for (other) credentials, 403 says
# they are fine but not enough. The reference answers 401 for both; RFC 6750 prefers 403 for
# insufficient_scope, so either is accepted there.
REFUSAL_CODES = {401: "UNAUTHORIZED", 403: "DENIED"}


def assert_refused(r: requests.Response, statuses: tuple[int, ...] = (401,),
                   error: str | None = None, scope: str | None = None) -> dict[str, Any]:
    """The spec's refusal: status, JSON ``errors`` body with its code, a Bearer challenge
    with ``error`` and ``scope`` as given (None: absent)."""
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["errors"][0]["code"] == REFUSAL_CODES[r.status_code], body
    assert body["errors"][0]["message"], body
    scheme, params = parse_challenge(r.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    assert params.get("error") == error, params
    assert params.get("scope") == scope, params
    return {"body": body, "challenge": params}


def push_blob(url: str, repo: str, data: bytes, token: str) -> str:
    """A monolithic blob upload (one POST with the digest); returns the digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data,
                      headers={**bearer(token), "Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return digest


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout}s")


class EventReceiver:
    """A webhook receiver: records every POSTed JSON body, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        lock = threading.Lock()
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    bodies.append(json.loads(data))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def events(self) -> list[dict[str, Any]]:
        """Bare events (``format: event``) and envelopes (``{"events": [...]}``) alike."""
        out: list[dict[str, Any]] = []
        for body in list(self.bodies):
            out.extend(body["events"] if isinstance(body, dict) and "events" in body else [body])
        return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def manifest_events(receiver: EventReceiver, action: str) -> list[dict[str, Any]]:
    return [e for e in receiver.events()
            if e.get("action") == action and e["target"].get("repository") == REPO
            and e["target"].get("mediaType") == OCI_MANIFEST]


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def token_server(tmp_path_factory) -> Iterator[TokenServer]:
    with TokenServer(tmp_path_factory.mktemp("tokens"), USERS, POLICY) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[EventReceiver]:
    r = EventReceiver()
    yield r
    r.close()


@pytest.fixture
def token_registry(start_registry, token_server):
    """A registry trusting the token server, no notification endpoints."""
    return start_registry(extra_config={"auth": token_server.registry_auth_config()})


@pytest.fixture
def image(tmp_path) -> tuple[str, Image]:
    layout = tmp_path / "src"
    return str(layout), write_image(layout, "v1", [150_000, 60_000])


# ------------------------------------------------------------------ tests


def test_skopeo_push_and_pull_through_the_token_server(
        start_registry, token_server, receiver, skopeo, image, tmp_path):
    """alice pushes, bob pulls, bob cannot push; events name the token's subject as actor."""
    registry = start_registry(extra_config={
        "auth": token_server.registry_auth_config(),
        "notifications": {"endpoints": [{
            "name": "token-actor", "url": receiver.url, "timeout": "2s",
            "threshold": 5, "backoff": "1s"}]},
    })
    layout, pushed = image
    target = f"docker://{registry.host}/{REPO}:v1"

    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
           "--dest-creds", f"alice:{USERS['alice']}", f"oci:{layout}:v1", target)
    alice_asked = [r for r in token_server.requests if r["user"] == "alice"]
    assert any(f"repository:{REPO}:pull,push" in r["scopes"] for r in alice_asked), \
        token_server.requests

    # The pushed bytes are served to a bearer of a pull token.
    pull = bearer(token_server.token_for("bob", [f"repository:{REPO}:pull"]))
    r = requests.get(f"{registry.url}/v2/{REPO}/manifests/v1",
                     headers={**pull, "Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text
    assert r.content == pushed.manifest

    skopeo("copy", "--preserve-digests", "--src-tls-verify=false",
           "--src-creds", f"bob:{USERS['bob']}", target, f"oci:{tmp_path / 'pulled'}:v1")
    assert_same_image(read_image(tmp_path / "pulled", "v1"), pushed)

    # bob's push fails in skopeo, and the registry says why.
    denied = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"bob:{USERS['bob']}",
                    f"oci:{layout}:v1", f"docker://{registry.host}/{REPO}:bob", check=False)
    assert denied.returncode != 0
    assert re.search(r"denied|unauthorized|insufficient", denied.stderr, re.I), denied.stderr
    bob_push = bearer(token_server.token_for("bob", [f"repository:{REPO}:pull,push"]))
    r = requests.post(f"{registry.url}/v2/{REPO}/blobs/uploads/", headers=bob_push)
    assert_refused(r, (401, 403), error="insufficient_scope",
                   scope=f"repository:{REPO}:pull,push")
    r = requests.put(f"{registry.url}/v2/{REPO}/manifests/bob", data=pushed.manifest,
                     headers={**bob_push, "Content-Type": OCI_MANIFEST})
    assert_refused(r, (401, 403), error="insufficient_scope",
                   scope=f"repository:{REPO}:pull,push")
    tags = requests.get(f"{registry.url}/v2/{REPO}/tags/list", headers=pull).json()["tags"]
    assert tags == ["v1"]

    # A copy to a second repository mounts the layers: skopeo asks the token server for
    # push on the target and pull on the source in one token, and the registry accepts it.
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
           "--src-creds", f"alice:{USERS['alice']}", "--dest-creds", f"alice:{USERS['alice']}",
           target, f"docker://{registry.host}/demo/copy:v1")
    assert any({"repository:demo/copy:pull,push", f"repository:{REPO}:pull"} <= set(r["scopes"])
               for r in token_server.requests), token_server.requests
    r = requests.get(f"{registry.url}/v2/demo/copy/manifests/v1",
                     headers={**pull, "Accept": OCI_MANIFEST})
    assert_refused(r, (401, 403), error="insufficient_scope",  # bob's token: demo/app only
                   scope="repository:demo/copy:pull")
    alice_pull = bearer(token_server.token_for("alice", ["repository:demo/copy:pull"]))
    r = requests.get(f"{registry.url}/v2/demo/copy/manifests/v1",
                     headers={**alice_pull, "Accept": OCI_MANIFEST})
    assert r.status_code == 200 and r.content == pushed.manifest, r.text

    # Events name the token's subject: alice pushed; bob, then alice, pulled demo/app.
    pushes = wait_for(lambda: manifest_events(receiver, "push"), EVENT_WAIT_SECONDS,
                      "manifest push event")
    pushes = [e for e in pushes if e["target"].get("tag") == "v1"]
    assert pushes[0]["target"]["digest"] == pushed.manifest_digest
    assert pushes[0]["target"].get("tag") == "v1"
    assert all(e["actor"] == {"name": "alice"} for e in pushes), pushes
    # bob pulled demo/app, then alice read it for her copy.
    def pull_actors() -> set[str]:
        return {json.dumps(e["actor"]) for e in manifest_events(receiver, "pull")}

    expected = {json.dumps({"name": "bob"}), json.dumps({"name": "alice"})}
    wait_for(lambda: pull_actors() == expected, EVENT_WAIT_SECONDS, "pulls by bob and alice")


def test_no_token_is_challenged(token_registry, token_server):
    r = requests.get(f"{token_registry.url}/v2/{REPO}/manifests/v1",
                     headers={"Accept": OCI_MANIFEST})
    refused = assert_refused(r, scope=f"repository:{REPO}:pull")
    assert refused["challenge"]["realm"] == token_server.realm
    assert refused["challenge"]["service"] == token_server.service
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="{token_server.realm}",service="{token_server.service}",'
        f'scope="repository:{REPO}:pull"')
    assert refused["body"]["errors"][0].get("detail") == [
        {"Type": "repository", "Name": REPO, "Action": "pull"}]

    base = requests.get(f"{token_registry.url}/v2/")
    refused = assert_refused(base)
    assert refused["challenge"] == {"realm": token_server.realm,
                                    "service": token_server.service}

    # Basic credentials are not a token.
    basic = requests.get(f"{token_registry.url}/v2/", auth=("alice", USERS["alice"]))
    assert_refused(basic)


def test_bad_tokens_are_refused(token_registry, token_server):
    url = f"{token_registry.url}/v2/{REPO}/manifests/none"
    scope = f"repository:{REPO}:pull"
    grant = [access("repository", REPO, "pull")]
    issue = token_server.signer.issue
    audience, issuer = token_server.service, token_server.issuer

    # Control: a good token gets past authentication to a 404.
    good = requests.get(url, headers=bearer(issue("alice", grant, issuer=issuer,
                                                  audience=audience)))
    assert good.status_code == 404, good.text
    # And /v2/ accepts any valid token.
    base = requests.get(f"{token_registry.url}/v2/",
                        headers=bearer(token_server.token_for("bob", [])))
    assert base.status_code == 200, base.text

    bad = {
        "expired": issue("alice", grant, issuer=issuer, audience=audience,
                         issued_at=time.time() - 3600),
        "another audience": issue("alice", grant, issuer=issuer, audience="another-registry"),
        "another issuer": issue("alice", grant, issuer="someone-else", audience=audience),
        "unknown key": Signer.generate("stranger").issue("alice", grant, issuer=issuer,
                                                         audience=audience),
        "garbage": "not.a.jwt",
    }
    for why, token in bad.items():
        r = requests.get(url, headers=bearer(token))
        assert r.status_code == 401, (why, r.status_code, r.text)
        assert_refused(r, error="invalid_token", scope=scope)

    # A valid token for another repository grants nothing here.
    elsewhere = issue("alice", [access("repository", "demo/other", "pull", "push")],
                      issuer=issuer, audience=audience)
    r = requests.get(url, headers=bearer(elsewhere))
    assert_refused(r, (401, 403), error="insufficient_scope", scope=scope)


def test_cross_repository_mount_needs_pull_on_the_source(token_registry, token_server):
    """As in the reference, ``POST ?mount=&from=`` needs pull on ``from`` as well: alice, who
    may push demo/*, cannot mount carol's private blob, whatever scope she asks for."""
    url = token_registry.url
    secret = push_blob(url, "private/base", os.urandom(4096),
                       token_server.token_for("carol", ["repository:private/base:pull,push"]))
    wanted = ["repository:demo/app:pull,push", "repository:private/base:pull"]
    alice = token_server.token_for("alice", wanted)
    r = requests.post(f"{url}/v2/demo/app/blobs/uploads/",
                      params={"mount": secret, "from": "private/base"}, headers=bearer(alice))
    assert_refused(r, (401, 403), error="insufficient_scope", scope=" ".join(wanted))
    leaked = requests.get(f"{url}/v2/demo/app/blobs/{secret}", headers=bearer(alice))
    assert leaked.status_code == 404, leaked.status_code

    # Between repositories she may read, the same mount is allowed.
    own = push_blob(url, "demo/app", os.urandom(4096), alice)
    both = token_server.token_for("alice", ["repository:demo/second:pull,push",
                                            "repository:demo/app:pull"])
    r = requests.post(f"{url}/v2/demo/second/blobs/uploads/",
                      params={"mount": own, "from": "demo/app"}, headers=bearer(both))
    assert r.status_code == 201, r.text
    assert requests.head(f"{url}/v2/demo/second/blobs/{own}",
                         headers=bearer(both)).status_code == 200


# ------------------------------------------------------------------ autoredirect
# The reference's rule (registry/auth/token/accesscontroller.go): the realm is
# <X-Forwarded-Proto, else https>://<the request's Host><autoredirectpath, default /auth/token>.


def redirect_config(token_server: TokenServer, **token: Any) -> dict[str, Any]:
    """``auth`` trusting ``token_server`` with autoredirect on, and a configured realm nothing
    answers on: a client that reaches a token followed the redirected realm."""
    return {"auth": {"token": {**token_server.registry_auth_config()["token"],
                               "realm": "http://127.0.0.1:9/not-this-realm",
                               "autoredirect": True, **token}}}


def test_autoredirect_realm_is_the_host_the_client_used(start_registry, token_server):
    registry = start_registry(extra_config=redirect_config(token_server))
    service = token_server.service

    behind_proxy = requests.get(f"{registry.url}/v2/", headers={"X-Forwarded-Proto": "http"})
    assert_refused(behind_proxy)
    assert behind_proxy.headers["WWW-Authenticate"] == \
        f'Bearer realm="http://{registry.host}/auth/token",service="{service}"'

    # Without X-Forwarded-Proto the reference says https, whatever the request came over.
    plain = assert_refused(requests.get(f"{registry.url}/v2/"))
    assert plain["challenge"] == {"realm": f"https://{registry.host}/auth/token",
                                  "service": service}

    # The Host the client named, not the address it connected to; and refused tokens too.
    named = requests.get(f"{registry.url}/v2/{REPO}/tags/list",
                         headers={"Host": "registry.example:8443", "X-Forwarded-Proto": "https",
                                  **bearer("not.a.jwt")})
    refused = assert_refused(named, error="invalid_token", scope=f"repository:{REPO}:pull")
    assert refused["challenge"]["realm"] == "https://registry.example:8443/auth/token"


def test_autoredirectpath_names_the_path(start_registry, token_server):
    registry = start_registry(extra_config=redirect_config(token_server,
                                                           autoredirectpath="/oauth2/token"))
    r = requests.get(f"{registry.url}/v2/", headers={"X-Forwarded-Proto": "http"})
    assert assert_refused(r)["challenge"]["realm"] == f"http://{registry.host}/oauth2/token"


def test_skopeo_gets_its_token_through_the_redirected_realm(
        start_registry, skopeo, image, tmp_path):
    """One front door (a proxy adding X-Forwarded-Proto, as nginx does) serves the registry and,
    at /auth/token, the token server: skopeo pushes and pulls knowing only the door's address."""
    with TokenServer(tmp_path / "tokens", USERS, POLICY, path="/auth/token") as tokens:
        registry = start_registry(extra_config=redirect_config(tokens))
        with RecordingProxy(registry.port, routes={"/auth/": tokens.port},
                            headers={"X-Forwarded-Proto": "http"}) as door:
            layout, pushed = image
            target = f"docker://{door.host}/{REPO}:v1"
            skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
                   "--dest-creds", f"alice:{USERS['alice']}", f"oci:{layout}:v1", target)
            assert any(r["user"] == "alice" and f"repository:{REPO}:pull,push" in r["scopes"]
                       for r in tokens.requests), tokens.requests
            skopeo("copy", "--preserve-digests", "--src-tls-verify=false",
                   "--src-creds", f"bob:{USERS['bob']}", target, f"oci:{tmp_path / 'pulled'}:v1")
            assert_same_image(read_image(tmp_path / "pulled", "v1"), pushed)
            assert any(r["user"] == "bob" for r in tokens.requests), tokens.requests
            assert any(s.path == "/auth/token" and s.status == 200 for s in door.seen), door.seen
