"""Pieces of the console's registry client: token scopes, challenges, pagination links."""

import requests

from services.console.registry.client import _next_last, _scope_for
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
