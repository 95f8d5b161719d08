"""One storage root, two registries: what one writes, the other serves, both ways.

The writer (the reference docker-registry, or this registry) takes pushes from skopeo, including
an image index and a mounted repository, and deletes one manifest; it is stopped; the reader
serves the same root and everything comes back byte for byte, the deletion included.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    read_blob,
    read_image,
    sha256,
    write_image,
    write_index,
)
from tests.e2e.test_skopeo import assert_same_image, assert_served, copy

pytestmark = pytest.mark.e2e


@pytest.fixture
def layout(tmp_path, umoci):
    """``app`` (gzip), ``plain`` (uncompressed layer), ``doomed``, and ``multi`` (an index)."""
    path = tmp_path / "src"
    write_image(path, "app", [120_000, 80_000])
    write_image(path, "plain", [90_000], gzip_layers=False)
    write_image(path, "doomed", [10_000])
    amd = write_image(path, "amd64", [50_000])
    arm = write_image(path, "arm64", [60_000])
    write_index(path, "multi", {"linux/amd64": amd, "linux/arm64": arm})
    return path


def push_everything(writer, skopeo, layout) -> dict[str, str]:
    """Push the layout's tags with skopeo; returns {"repo:tag": manifest digest} that remain."""
    base = f"docker://{writer.host}"
    for tag in ("app", "plain", "doomed"):
        copy(skopeo, f"oci:{layout}:{tag}", f"{base}/interop/images:{tag}")
    copy(skopeo, f"oci:{layout}:app", f"{base}/interop/mirror:app")  # mounted from images
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
           f"oci:{layout}:multi", f"{base}/interop/multi:multi")
    skopeo("delete", "--tls-verify=false", f"{base}/interop/images:doomed")
    return {
        "interop/images:app": read_image(layout, "app").manifest_digest,
        "interop/images:plain": read_image(layout, "plain").manifest_digest,
        "interop/mirror:app": read_image(layout, "app").manifest_digest,
    }


def assert_reader_serves_everything(reader, skopeo, layout, tmp_path) -> None:
    for repo, tag in (("interop/images", "app"), ("interop/images", "plain"),
                      ("interop/mirror", "app")):
        image = read_image(layout, tag)
        assert_served(reader.url, repo, tag, image)
        out = tmp_path / f"pulled-{repo.replace('/', '_')}"
        copy(skopeo, f"docker://{reader.host}/{repo}:{tag}", f"oci:{out}:{tag}")
        assert_same_image(read_image(out, tag), image)

    # The index and both platform images, by tag and by digest.
    index_bytes = read_blob(layout, _tagged_digest(layout, "multi"))
    r = requests.get(f"{reader.url}/v2/interop/multi/manifests/multi",
                     headers={"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"})
    assert r.status_code == 200, r.text
    assert r.content == index_bytes
    assert r.headers["Docker-Content-Digest"] == sha256(index_bytes)
    for child in json.loads(index_bytes)["manifests"]:
        c = requests.get(f"{reader.url}/v2/interop/multi/manifests/{child['digest']}",
                         headers={"Accept": OCI_MANIFEST})
        assert c.status_code == 200, (child["digest"], c.status_code)
        assert sha256(c.content) == child["digest"]
    out = tmp_path / "pulled-multi"
    skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
           f"docker://{reader.host}/interop/multi:multi", f"oci:{out}:multi")
    assert read_blob(out, _tagged_digest(out, "multi")) == index_bytes

    # Tags, catalog, and the deleted manifest staying deleted.
    tags = requests.get(f"{reader.url}/v2/interop/images/tags/list").json()
    assert tags == {"name": "interop/images", "tags": ["app", "plain"]}
    catalog = requests.get(f"{reader.url}/v2/_catalog").json()
    assert catalog["repositories"] == ["interop/images", "interop/mirror", "interop/multi"]
    doomed = read_image(layout, "doomed").manifest_digest
    gone = requests.get(f"{reader.url}/v2/interop/images/manifests/{doomed}",
                        headers={"Accept": OCI_MANIFEST})
    assert gone.status_code == 404


def _tagged_digest(layout, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    (desc,) = [m for m in index["manifests"]
               if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    return desc["digest"]


@pytest.mark.parametrize("writer_kind, reader_kind", [("reference", "ours"), ("ours", "reference")])
def test_one_root_both_registries(start_registry, skopeo, layout, tmp_path,
                                  writer_kind, reader_kind):
    root = tmp_path / "shared-root"
    writer = start_registry(writer_kind, root=root)
    push_everything(writer, skopeo, layout)
    writer.stop()

    reader = start_registry(reader_kind, root=root)
    assert_reader_serves_everything(reader, skopeo, layout, tmp_path)

    # The reader writes into the root too, and the writer, restarted, serves that.
    copy(skopeo, f"oci:{layout}:doomed", f"docker://{reader.host}/interop/images:again")
    reader.stop()
    writer_again = start_registry(writer_kind, root=root)
    assert_served(writer_again.url, "interop/images", "again", read_image(layout, "doomed"))


def test_catalog_matches_the_reference_on_one_root(start_registry, tmp_path):
    # A repository holding only blobs is listed by both; one with only an unfinished upload by
    # neither. Each registry pushes half, so the layout either writes is what the other reads.
    root = tmp_path / "shared-root"
    for kind, repo in (("reference", "blobs/from-reference"), ("ours", "blobs/from-ours")):
        reg = start_registry(kind, root=root)
        data = repo.encode()
        started = requests.post(f"{reg.url}/v2/{repo}/blobs/uploads/")
        location = started.headers["Location"]
        url = location if location.startswith("http") else reg.url + location
        assert requests.put(url, params={"digest": sha256(data)}, data=data).status_code == 201
        assert requests.post(f"{reg.url}/v2/{repo}-unfinished/blobs/uploads/").status_code == 202
        reg.stop()
    catalogs = {}
    for kind in ("reference", "ours"):
        reg = start_registry(kind, root=root)
        catalogs[kind] = requests.get(f"{reg.url}/v2/_catalog").json()["repositories"]
        reg.stop()
    assert catalogs["ours"] == catalogs["reference"] == ["blobs/from-ours", "blobs/from-reference"]
