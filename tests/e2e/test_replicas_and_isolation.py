"""Replicas on one root, concurrent clients, repository isolation, Docker schema2 formats."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.oci import read_image, write_image
from tests.e2e.test_skopeo import assert_same_image, assert_served, copy

pytestmark = pytest.mark.e2e

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SHARED_SECRET = {"http": {"secret": "e2e-shared-secret-for-both-replicas"}}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def path_of(location: str, host: str) -> str:
    return location.split(host, 1)[1] if location.startswith("http") else location


def test_two_processes_on_one_root_finish_one_chunked_upload(start_registry, tmp_path):
    root = tmp_path / "root"
    a = start_registry(root=root, extra_config=SHARED_SECRET)
    b = start_registry(root=root, extra_config=SHARED_SECRET)
    data = os.urandom(3 * 65536 + 123)
    parts = [data[:65536], data[65536:2 * 65536], data[2 * 65536:]]

    r = requests.post(f"{a.url}/v2/replicas/app/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = path_of(r.headers["Location"], a.host)
    offset = 0
    for reg, part in zip((a, b), parts[:2], strict=True):  # chunk 1 on A, chunk 2 on B
        r = requests.patch(reg.url + location, data=part, headers={
            "Content-Range": f"{offset}-{offset + len(part) - 1}",
            "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, (reg.port, r.status_code, r.text)
        offset += len(part)
        assert r.headers["Range"] == f"0-{offset - 1}"
        location = path_of(r.headers["Location"], reg.host)

    status = requests.get(a.url + location)  # A sees what B received
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{offset - 1}"
    done = requests.put(a.url + location, params={"digest": digest_of(data)}, data=parts[2])
    assert done.status_code == 201, done.text
    for reg in (a, b):
        got = requests.get(f"{reg.url}/v2/replicas/app/blobs/{digest_of(data)}")
        assert got.status_code == 200
        assert got.content == data


def test_concurrent_pushes_of_one_image(registry, skopeo, tmp_path):
    """Four skopeo processes push the same image at once, two to one tag: all succeed."""
    layout = tmp_path / "src"
    image = write_image(layout, "v1", [400_000, 300_000])
    targets = ["race/one:v1", "race/one:v1", "race/one:other", "race/two:v1"]
    with ThreadPoolExecutor(len(targets)) as pool:
        list(pool.map(lambda t: copy(skopeo, f"oci:{layout}:v1", f"docker://{registry.host}/{t}"),
                      targets))
    for target in set(targets):
        repo, tag = target.split(":")
        assert_served(registry.url, repo, tag, image)
    tags = requests.get(f"{registry.url}/v2/race/one/tags/list").json()["tags"]
    assert tags == ["other", "v1"]


def test_blobs_are_isolated_between_repositories(registry):
    """A blob pushed to one repository is invisible from, and not mountable into, others."""
    data = os.urandom(2048)
    digest = digest_of(data)
    r = requests.post(f"{registry.url}/v2/iso/owner/blobs/uploads/")
    put = requests.put(registry.url + path_of(r.headers["Location"], registry.host),
                       params={"digest": digest}, data=data)
    assert put.status_code == 201, put.text

    assert requests.head(f"{registry.url}/v2/iso/owner/blobs/{digest}").status_code == 200
    head = requests.head(f"{registry.url}/v2/iso/stranger/blobs/{digest}")
    assert head.status_code == 404
    get = requests.get(f"{registry.url}/v2/iso/stranger/blobs/{digest}")
    assert get.status_code == 404
    assert get.json()["errors"][0]["code"] == "BLOB_UNKNOWN"

    # Mounting from a repository that does not hold the blob starts an upload instead.
    mount = requests.post(f"{registry.url}/v2/iso/thief/blobs/uploads/",
                          params={"mount": digest, "from": "iso/stranger"})
    assert mount.status_code == 202, (mount.status_code, mount.text)
    assert requests.head(f"{registry.url}/v2/iso/thief/blobs/{digest}").status_code == 404
    # From the owner it mounts.
    mount = requests.post(f"{registry.url}/v2/iso/friend/blobs/uploads/",
                          params={"mount": digest, "from": "iso/owner"})
    assert mount.status_code == 201, (mount.status_code, mount.text)
    assert mount.headers["Docker-Content-Digest"] == digest
    assert requests.get(f"{registry.url}/v2/iso/friend/blobs/{digest}").content == data


def test_docker_schema2_image_and_manifest_list(registry, skopeo, tmp_path):
    """skopeo converts to Docker schema2 on push; the bytes it pushed come back unchanged."""
    layout = tmp_path / "src"
    write_image(layout, "v1", [100_000])
    skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{layout}:v1",
           f"docker://{registry.host}/docker/app:v1")
    raw = skopeo("inspect", "--raw", "--tls-verify=false",
                 f"docker://{registry.host}/docker/app:v1").stdout.encode()
    assert json.loads(raw)["mediaType"] == DOCKER_V2
    r = requests.get(f"{registry.url}/v2/docker/app/manifests/v1", headers={"Accept": DOCKER_V2})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == DOCKER_V2
    assert r.content == raw
    assert r.headers["Docker-Content-Digest"] == digest_of(raw)

    # A Docker manifest list over it, pushed and read back by hand.
    manifest_list = json.dumps({
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [{"mediaType": DOCKER_V2, "digest": digest_of(raw), "size": len(raw),
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    }).encode()
    put = requests.put(f"{registry.url}/v2/docker/app/manifests/multi", data=manifest_list,
                       headers={"Content-Type": DOCKER_LIST})
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == digest_of(manifest_list)
    got = requests.get(f"{registry.url}/v2/docker/app/manifests/multi",
                       headers={"Accept": f"{DOCKER_LIST}, {DOCKER_V2}"})
    assert got.content == manifest_list
    assert got.headers["Content-Type"] == DOCKER_LIST

    # skopeo copies the list with its image to an OCI layout, keeping the image's bytes.
    out = tmp_path / "pulled"
    skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
           f"docker://{registry.host}/docker/app:multi", f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == manifest_list
    assert (out / f"{digest_of(raw).split(':')[1]}.manifest.json").read_bytes() == raw


def test_pull_through_second_replica_after_push(start_registry, skopeo, tmp_path):
    """An image pushed through one replica is pulled whole through another on the same root."""
    root = tmp_path / "root"
    a = start_registry(root=root, extra_config=SHARED_SECRET)
    b = start_registry(root=root, extra_config=SHARED_SECRET)
    layout = tmp_path / "src"
    image = write_image(layout, "v1", [150_000])
    copy(skopeo, f"oci:{layout}:v1", f"docker://{a.host}/replicas/img:v1")
    copy(skopeo, f"docker://{b.host}/replicas/img:v1", f"oci:{tmp_path / 'out'}:v1")
    assert_same_image(read_image(tmp_path / "out", "v1"), image)
