"""A delete holds for every process serving the storage: the other gunicorn workers of one
``registry serve`` and other replicas, each with its own ``inmemory`` blob descriptor cache.

Every request goes over a new connection (no ``requests.Session``), so the kernel hands each
one to whichever worker accepts it first: with 40 reads, both workers of a 2-worker server
answer some of them (they warm their caches before the delete and are asked after it).
"""

from __future__ import annotations

import json
import os

import pytest
import requests

from tests.integration.registry.registry_api import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sha256
from tests.integration.registry.registry_procs import ServeProcess

CACHE = {"cache": {"blobdescriptor": "inmemory"}}
READS = 40


@pytest.fixture
def two_workers(tmp_path):
    proc = ServeProcess(tmp_path / "root", tmp_path, "w2", storage=CACHE, workers=2).start()
    yield proc, proc
    proc.kill()


@pytest.fixture
def two_replicas(tmp_path):
    a = ServeProcess(tmp_path / "root", tmp_path, "a", storage=CACHE).start()
    b = ServeProcess(tmp_path / "root", tmp_path, "b", storage=CACHE).start()
    yield a, b
    a.kill()
    b.kill()


@pytest.fixture(params=["two_workers", "two_replicas"])
def servers(request):
    return request.getfixturevalue(request.param)


def push_blob(url: str, repo: str, data: bytes) -> str:
    r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, data=data)
    assert r.status_code == 201, r.text
    return sha256(data)


def statuses(method: str, url: str, times: int = READS, **kwargs: object) -> set[int]:
    return {requests.request(method, url, timeout=10, **kwargs).status_code for _ in range(times)}


def test_a_deleted_blob_is_gone_and_cannot_be_mounted(servers):
    deleter, other = servers
    data = os.urandom(4096)
    digest = push_blob(deleter.url, "team/a", data)
    for proc in (deleter, other):  # every process has it in its cache now
        assert statuses("GET", f"{proc.url}/v2/team/a/blobs/{digest}") == {200}
        assert statuses("HEAD", f"{proc.url}/v2/team/a/blobs/{digest}", 10) == {200}

    r = requests.delete(f"{deleter.url}/v2/team/a/blobs/{digest}")
    assert r.status_code == 202, r.text

    for proc in (deleter, other):
        assert statuses("GET", f"{proc.url}/v2/team/a/blobs/{digest}") == {404}
        assert statuses("HEAD", f"{proc.url}/v2/team/a/blobs/{digest}", 10) == {404}
        # A mount from the repository that no longer has it starts an upload instead (202).
        for n in range(10):
            r = requests.post(f"{proc.url}/v2/team/c{n}/blobs/uploads/",
                              params={"mount": digest, "from": "team/a"})
            assert r.status_code == 202, (n, r.status_code, r.text)
            assert requests.head(f"{proc.url}/v2/team/c{n}/blobs/{digest}").status_code == 404


def test_a_manifest_deleted_by_digest_is_gone(servers):
    deleter, other = servers
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(1024)
    for blob in (config, layer):
        push_blob(deleter.url, "team/app", blob)
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
    }).encode()
    r = requests.put(f"{deleter.url}/v2/team/app/manifests/v1", data=body,
                     headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    digest = sha256(body)
    accept = {"Accept": OCI_MANIFEST}
    for proc in (deleter, other):
        for ref in ("v1", digest):
            assert statuses("GET", f"{proc.url}/v2/team/app/manifests/{ref}", 10,
                            headers=accept) == {200}

    r = requests.delete(f"{deleter.url}/v2/team/app/manifests/{digest}")
    assert r.status_code == 202, r.text

    for proc in (deleter, other):
        for ref in ("v1", digest):
            for method in ("GET", "HEAD"):
                assert statuses(method, f"{proc.url}/v2/team/app/manifests/{ref}", 10,
                                headers=accept) == {404}, (proc.url, ref, method)
