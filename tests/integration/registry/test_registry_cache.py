"""The blob descriptor cache hook: lookups go through it, and storage stays the truth."""

from falcon import testing

from services.registry.cache import InMemoryBlobDescriptorCache
from services.registry.http import create_app
from shared.events import RecordingSink
from tests.integration.registry.registry_api import HOST, Api, make_config, sha256


class CountingCache(InMemoryBlobDescriptorCache):
    def __init__(self) -> None:
        super().__init__(100)
        self.lookups = 0

    def is_repository_member(self, repo, digest):
        self.lookups += 1
        return super().is_repository_member(repo, digest)


class BrokenCache(InMemoryBlobDescriptorCache):
    """A cache whose backend is gone (Redis down): every call fails."""

    def __getattribute__(self, name):
        if name in ("get", "set", "set_repository_member", "is_repository_member", "delete",
                    "delete_repository_member"):
            raise ConnectionError("cache unreachable")
        return super().__getattribute__(name)


def _api(tmp_path, cache):
    sink = RecordingSink()
    app = create_app(make_config(str(tmp_path), delete={"enabled": True}), sink=sink, cache=cache)
    return Api(testing.TestClient(app, headers={"Host": HOST}), sink, str(tmp_path))


def test_pushed_blobs_are_cached_and_deletes_forget_them(tmp_path):
    cache = CountingCache()
    api = _api(tmp_path, cache)
    dg = api.push_blob("r", b"cached")
    assert cache.get(dg).size == len(b"cached")
    assert cache.is_repository_member("r", dg) is True
    assert api.simulate_head(f"/v2/r/blobs/{dg}").status_code == 200
    assert cache.lookups >= 1
    assert api.simulate_delete(f"/v2/r/blobs/{dg}").status_code == 202
    assert cache.is_repository_member("r", dg) is not True
    assert api.simulate_head(f"/v2/r/blobs/{dg}").status_code == 404
    assert api.simulate_head(f"/v2/other/blobs/{dg}").status_code == 404


def test_registry_works_when_the_cache_fails(tmp_path):
    api = _api(tmp_path, BrokenCache())
    digest, body = api.push_image("r", "v1")
    assert api.simulate_get("/v2/r/manifests/v1").content == body
    assert api.simulate_get(f"/v2/r/blobs/{sha256(b'layer-1')}").content == b"layer-1"
