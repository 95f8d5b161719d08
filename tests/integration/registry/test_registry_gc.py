"""``garbage-collect``: mark and sweep over a storage root written through the API."""

import io
import json

from services.registry.gc import garbage_collect
from tests.integration.registry.registry_api import OCI_INDEX, OCI_MANIFEST, build_api, make_config, sha256


def _blob_exists(api, digest):
    return api.simulate_get(f"/v2/r/blobs/{digest}").status_code == 200


def _run(api, **kwargs):
    out = io.StringIO()
    assert garbage_collect(make_config(api.root), out=out, **kwargs) == 0
    return out.getvalue()


def test_unreferenced_blobs_are_swept_and_referenced_ones_kept(tmp_path):
    api = build_api(tmp_path, delete={"enabled": True})
    digest, _ = api.push_image("r", "v1", layers=(b"kept-layer",))
    orphan = api.push_blob("r", b"orphan layer")
    dry = _run(api, dry_run=True)
    assert f"blob eligible for deletion: {orphan}" in dry
    assert _blob_exists(api, orphan)
    report = _run(api)
    assert f"blob eligible for deletion: {orphan}" in report
    assert "1 blobs and 0 manifests eligible for deletion" in report
    assert not _blob_exists(api, orphan)
    assert _blob_exists(api, sha256(b"kept-layer"))
    assert api.simulate_get(f"/v2/r/manifests/{digest}").status_code == 200


def test_deleted_manifest_releases_its_blobs(tmp_path):
    api = build_api(tmp_path, delete={"enabled": True})
    digest, _ = api.push_image("r", "v1", layers=(b"only-here",))
    api.push_image("r", "v2", layers=(b"other",))
    api.simulate_delete(f"/v2/r/manifests/{digest}")
    report = _run(api)
    assert f"blob eligible for deletion: {sha256(b'only-here')}" in report
    assert f"blob eligible for deletion: {digest}" in report
    assert _blob_exists(api, sha256(b"other"))


def test_delete_untagged_keeps_what_tags_reach(tmp_path):
    api = build_api(tmp_path, delete={"enabled": True})
    old, _ = api.push_image("r", "v1", layers=(b"old",))
    new, new_body = api.push_image("r", "v1", layers=(b"new",))  # v1 moves on
    idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": new, "size": len(new_body)}]}).encode()
    api.simulate_put("/v2/r/manifests/multi", body=idx, headers={"Content-Type": OCI_INDEX})
    report = _run(api, delete_untagged=True)
    assert f"r: manifest eligible for deletion: {old}" in report
    assert api.simulate_get(f"/v2/r/manifests/{old}").status_code == 404
    assert api.simulate_get(f"/v2/r/manifests/{new}").status_code == 200
    assert api.simulate_get("/v2/r/manifests/multi").status_code == 200
    assert not _blob_exists(api, sha256(b"old"))
    assert _blob_exists(api, sha256(b"new"))
