"""skopeo against a real registry process: push, pull, inspect, list-tags, delete, mount."""

from __future__ import annotations

import json
import os

import pytest
import requests

from tests.e2e.oci import OCI_MANIFEST, Image, read_image, umoci_image, write_image
from tests.e2e.proxy import RecordingProxy

pytestmark = pytest.mark.e2e


@pytest.fixture
def images(tmp_path, umoci):
    """One layout, two tags: ``v1`` built by umoci (gzip layers), ``v2`` by hand (plain tar)."""
    layout = tmp_path / "src"
    v1 = umoci_image(
        umoci, layout, "v1",
        {"/data/a.bin": os.urandom(200_000), "/data/b.bin": os.urandom(150_000)},
        tmp_path / "umoci-files",
    )
    v2 = write_image(layout, "v2", [300_000], gzip_layers=False)
    return layout, {"v1": v1, "v2": v2}


def copy(skopeo, src: str, dest: str) -> None:
    """skopeo copy that keeps every byte (no recompression) over plain HTTP."""
    skopeo("copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
           src, dest)


def assert_same_image(pulled: Image, pushed: Image) -> None:
    assert pulled.manifest_digest == pushed.manifest_digest
    assert pulled.manifest == pushed.manifest
    assert pulled.blobs.keys() == pushed.blobs.keys()
    for digest, data in pushed.blobs.items():
        assert pulled.blobs[digest] == data, f"blob {digest} differs"


def assert_served(url: str, repo: str, tag: str, image: Image) -> None:
    """The registry serves the exact manifest bytes and every blob, with matching digests."""
    r = requests.get(f"{url}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text
    assert r.content == image.manifest
    assert r.headers["Docker-Content-Digest"] == image.manifest_digest
    assert r.headers["Content-Type"] == image.manifest_media_type
    for digest, data in image.blobs.items():
        b = requests.get(f"{url}/v2/{repo}/blobs/{digest}")
        assert b.status_code == 200, (digest, b.status_code)
        assert b.content == data
        assert b.headers.get("Docker-Content-Digest") == digest


def test_push_pull_inspect_list_delete(registry, skopeo, images, tmp_path):
    layout, pushed = images
    repo = f"{registry.host}/e2e/app"
    for tag in pushed:
        copy(skopeo, f"oci:{layout}:{tag}", f"docker://{repo}:{tag}")

    for tag, image in pushed.items():
        assert_served(registry.url, "e2e/app", tag, image)
        copy(skopeo, f"docker://{repo}:{tag}",
               f"oci:{tmp_path / 'pulled'}:{tag}")
        assert_same_image(read_image(tmp_path / "pulled", tag), image)

    # Pull by digest too.
    v1 = pushed["v1"]
    copy(skopeo, f"docker://{repo}@{v1.manifest_digest}",
           f"oci:{tmp_path / 'bydigest'}:d")
    assert_same_image(read_image(tmp_path / "bydigest", "d"), v1)

    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{repo}:v1").stdout
    assert raw.encode() == v1.manifest
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{repo}:v1").stdout)
    assert info["Digest"] == v1.manifest_digest
    assert info["Layers"] == v1.layer_digests
    assert info["Os"] == "linux"

    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{repo}").stdout)
    assert sorted(tags["Tags"]) == ["v1", "v2"]

    skopeo("delete", "--tls-verify=false", f"docker://{repo}:v2")
    gone = requests.get(f"{registry.url}/v2/e2e/app/manifests/{pushed['v2'].manifest_digest}",
                        headers={"Accept": OCI_MANIFEST})
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{repo}").stdout)
    assert tags["Tags"] == ["v1"]
    failed = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{repo}:v2", check=False)
    assert failed.returncode != 0
    # v1 is untouched by the deletion.
    assert_served(registry.url, "e2e/app", "v1", v1)


def test_second_repo_mounts_layers(registry, skopeo, images, tmp_path):
    """Copying to a second repository mounts the layers: POST ?mount=&from=, no re-upload."""
    layout, pushed = images
    image = pushed["v1"]
    with RecordingProxy(registry.port) as proxy:
        copy(skopeo, f"oci:{layout}:v1",
               f"docker://{proxy.host}/e2e/first:v1")
        first_push = len(proxy.seen)
        copy(skopeo, f"oci:{layout}:v1",
               f"docker://{proxy.host}/e2e/second:v1")
        second = proxy.seen[first_push:]

    for layer in image.layer_digests:
        mounts = [s for s in second if s.method == "POST" and s.query.get("mount") == [layer]]
        assert mounts, f"no mount of {layer}: {[(s.method, s.path) for s in second]}"
        assert mounts[-1].query.get("from") == ["e2e/first"]
        assert mounts[-1].status == 201
    layer_bytes = sum(len(image.blobs[d]) for d in image.layer_digests)
    uploaded = sum(s.body_bytes for s in second if s.method in ("PATCH", "PUT", "POST"))
    assert uploaded < layer_bytes, "layer bytes were sent again instead of mounted"

    for layer in image.layer_digests:
        head = requests.head(f"{registry.url}/v2/e2e/second/blobs/{layer}")
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == len(image.blobs[layer])
    assert_served(registry.url, "e2e/second", "v1", image)
    copy(skopeo, f"docker://{registry.host}/e2e/second:v1",
           f"oci:{tmp_path / 'pulled2'}:v1")
    assert_same_image(read_image(tmp_path / "pulled2", "v1"), image)
