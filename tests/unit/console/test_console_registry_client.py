"""Pieces of the console's registry client: token scopes, challenges, pagination links."""

import http.server
import threading

import requests

from services.console.registry.client import Credentials, RegistryClient, _next_last, _scope_for
from services.console.registry.tokens import TokenCache, parse_challenge


def test_the_scope_each_call_needs():
    assert _scope_for("GET", "/v2/") == ""
    assert _scope_for("GET", "/v2/_catalog") == "registry:catalog:*"
    assert _scope_for("HEAD", "/v2/a/b/manifests/v1") == "repository:a/b:pull"
    assert _scope_for("GET", "/v2/a/blobs/sha256:x") == "repository:a:pull"
    assert _scope_for("GET", "/v2/a/b/c/tags/list") == "repository:a/b/c:pull"
    assert _scope_for("DELETE", "/v2/a/manifests/v1") == "repository:a:delete"


def test_a_bearer_challenge_is_read():
    c = parse_challenge('Bearer realm="https://auth/token",service="reg",'
                        'scope="repository:a:pull repository:b:pull"')
    assert c.scheme == "bearer" and c.params["realm"] == "https://auth/token"
    assert c.scopes == ["repository:a:pull", "repository:b:pull"]
    assert parse_challenge(None) is None


def test_the_next_page_is_read_from_the_link_header():
    r = requests.Response()
    r.url = "http://registry/v2/_catalog?n=2"
    r.headers["Link"] = '</v2/_catalog?last=team%2Fapp&n=2>; rel="next"'
    assert _next_last(r) == "team/app"
    assert _next_last(requests.Response()) is None


def test_tokens_are_kept_per_user_and_scope():
    cache = TokenCache()
    cache.put("alice", "repository:a:pull", "t1", expires_in=300)
    assert cache.get("alice", "repository:a:pull") == "t1"
    assert cache.get("bob", "repository:a:pull") is None



class _Proxy(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(self.path)  # a proxy is sent the whole URL
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_the_environments_proxy_for_the_registry_is_used_and_read_once(monkeypatch):
    # requests reads every environment variable twice a call to find a proxy; the console's
    # calls all go to one registry, whose proxy the environment names once, at the start.
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = RegistryClient("http://registry.invalid:5000", "basic", "secret")
        monkeypatch.delenv("HTTP_PROXY")
        client.as_user(Credentials("alice", "pw")).ping()
        assert _Proxy.seen == ["http://registry.invalid:5000/v2/"]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.setenv("NO_PROXY", "registry.invalid")
        assert RegistryClient("http://registry.invalid:5000", "basic", "secret")._proxies == {}
    finally:
        proxy.shutdown()
