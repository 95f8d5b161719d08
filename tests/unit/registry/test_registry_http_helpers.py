"""Pure helpers of the HTTP layer: routing, byte ranges, Accept parsing, access scopes."""

import pytest

from services.registry.http.middleware import access_scope
from services.registry.http.negotiation import accepted_types
from services.registry.http.responses import parse_range, upload_range
from services.registry.http.router import RegistryRouter


class _Resource:
    def on_get(self, req, resp, **params):
        return None


@pytest.fixture
def router():
    r = RegistryRouter()
    for name in ("base", "catalog", "tags", "manifest", "blob_upload_chunk", "blob_upload",
                 "blob", "referrers"):
        r.add_route(f"/{name}", _Resource())
    return r


@pytest.mark.parametrize("path,route,params", [
    ("/v2/", "base", {}),
    ("/v2", "base", {}),
    ("/v2/_catalog", "catalog", {}),
    ("/v2/a/b/c/tags/list", "tags", {"name": "a/b/c"}),
    ("/v2/a/manifests/v1", "manifest", {"name": "a", "reference": "v1"}),
    ("/v2/a/manifests/x/manifests/sha256:ab", "manifest",
     {"name": "a/manifests/x", "reference": "sha256:ab"}),
    ("/v2/a/b/blobs/uploads/", "blob_upload", {"name": "a/b"}),
    ("/v2/a/b/blobs/uploads", "blob_upload", {"name": "a/b"}),
    ("/v2/a/b/blobs/uploads/1234", "blob_upload_chunk", {"name": "a/b", "uuid": "1234"}),
    ("/v2/a/b/blobs/sha256:ab", "blob", {"name": "a/b", "digest": "sha256:ab"}),
    ("/v2/a/referrers/sha256:ab", "referrers", {"name": "a", "digest": "sha256:ab"}),
])
def test_routes(router, path, route, params):
    found = router.find(path)
    assert found is not None
    assert found[3] == route and found[2] == params


def test_unknown_paths_are_not_routed(router):
    assert router.find("/v3/") is None
    assert router.find("/v2/a/unknown/x") is None


@pytest.mark.parametrize("path", ["/v2/\n", "/v2/_catalog\n", "/v2/a/tags/list\n"])
def test_a_trailing_newline_routes_nowhere(router, path):
    # "$" also matches before a final newline: the whole path must match the route.
    assert router.find(path) is None


def test_prefix_is_stripped():
    r = RegistryRouter("/registry/")
    r.add_route("/base", _Resource())
    assert r.find("/registry/v2/")[3] == "base"
    assert r.find("/v2/") is None


@pytest.mark.parametrize("header,size,expected", [
    (None, 10, None), ("bytes=0-4", 10, (0, 5)), ("bytes=5-", 10, (5, 5)),
    ("bytes=-3", 10, (7, 3)), ("bytes=8-100", 10, (8, 2)), ("bytes=0-1,3-4", 10, None),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=5-2", "bytes=-0", "bytes=-", "items=0-1"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(ValueError):
        parse_range(header, 10)


@pytest.mark.parametrize("header", ["bytes=-10", "bytes=0-", "bytes=0-0"])
def test_no_range_of_an_empty_blob_is_satisfiable(header):
    with pytest.raises(ValueError):
        parse_range(header, 0)


def test_upload_range_header():
    assert upload_range(0) == "0-0"
    assert upload_range(1) == "0-0"
    assert upload_range(100) == "0-99"


def test_accept_parsing():
    manifest = "application/vnd.oci.image.manifest.v1+json"
    assert accepted_types([""]) is None
    assert accepted_types(["*/*"]) is None
    assert accepted_types([f"{manifest};q=0.9, */*"]) is None
    assert accepted_types(["application/json"]) is None
    assert accepted_types([f"{manifest}; q=0.5, application/json"]) == {manifest, "application/json"}


def test_access_scopes():
    assert access_scope("base", "GET", {}) == (None, ())
    assert access_scope("catalog", "GET", {}) == (None, ("*",))
    assert access_scope("manifest", "HEAD", {"name": "a"}) == ("a", ("pull",))
    assert access_scope("blob_upload", "POST", {"name": "a"}) == ("a", ("pull", "push"))
    assert access_scope("manifest", "DELETE", {"name": "a"}) == ("a", ("delete",))
    assert access_scope("blob_upload_chunk", "DELETE", {"name": "a"}) == ("a", ("pull", "push"))
