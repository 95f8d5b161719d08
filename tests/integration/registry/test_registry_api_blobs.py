"""Blob and upload endpoints through the real Falcon app."""

import os

from tests.integration.registry.registry_api import BASE, build_api, error_code, sha256


def test_base_endpoint(api):
    r = api.simulate_get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_monolithic_post_then_get_head_and_ranges(api):
    data = os.urandom(100_000)
    dg = api.push_blob("a/b", data)
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Docker-Content-Digest"] == dg
    assert r.headers["Content-Type"] == "application/octet-stream"
    r = api.simulate_head(f"/v2/a/b/blobs/{dg}")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(data))
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}", headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}", headers={"Range": "bytes=99990-"})
    assert r.content == data[99990:]
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}", headers={"Range": "bytes=200000-300000"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_a_range_of_the_empty_blob_is_416(api):
    dg = api.push_blob("a/b", b"")
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}", headers={"Range": "bytes=-10"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "bytes */0"
    r = api.simulate_get(f"/v2/a/b/blobs/{dg}")
    assert r.status_code == 200 and r.content == b""


def test_chunked_upload_with_status_and_headers(api):
    data = os.urandom(3 * 1024 * 1024 + 7)
    r = api.simulate_post("/v2/repo/blobs/uploads/")
    assert r.status_code == 202
    location = r.headers["Location"]
    uuid = r.headers["Docker-Upload-UUID"]
    assert location == f"{BASE}/v2/repo/blobs/uploads/{uuid}"
    assert r.headers["Range"] == "0-0"
    path = location[len(BASE):]
    offset = 0
    for size in (1024 * 1024, 2 * 1024 * 1024, 7):
        chunk = data[offset:offset + size]
        r = api.simulate_patch(path, body=chunk, headers={
            "Content-Range": f"{offset}-{offset + size - 1}", "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        offset += size
        assert r.headers["Range"] == f"0-{offset - 1}"
        assert r.headers["Docker-Upload-UUID"] == uuid
    r = api.simulate_get(path)
    assert r.status_code == 204 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = api.simulate_put(path, params={"digest": sha256(data)})
    assert r.status_code == 201
    assert r.headers["Location"] == f"{BASE}/v2/repo/blobs/{sha256(data)}"
    assert r.headers["Docker-Content-Digest"] == sha256(data)
    assert api.simulate_get(f"/v2/repo/blobs/{sha256(data)}").content == data
    # The session is gone once finished.
    assert error_code(api.simulate_get(path)) == "BLOB_UPLOAD_UNKNOWN"


def test_post_then_put_with_the_whole_body(api):
    data = b"x" * 4096
    path = api.simulate_post("/v2/raw/blobs/uploads/").headers["Location"][len(BASE):]
    r = api.simulate_put(path, params={"digest": sha256(data)}, body=data)
    assert r.status_code == 201
    assert api.simulate_head(f"/v2/raw/blobs/{sha256(data)}").status_code == 200


def test_out_of_order_and_overlapping_chunks_are_416(api):
    path = api.simulate_post("/v2/repo/blobs/uploads/").headers["Location"][len(BASE):]
    assert api.simulate_patch(path, body=b"12345", headers={"Content-Range": "0-4"}).status_code == 202
    for rng in ("3-7", "10-14", "0-4"):
        r = api.simulate_patch(path, body=b"67890", headers={"Content-Range": rng})
        assert r.status_code == 416
        assert r.headers["Range"] == "0-4"
        assert r.headers["Location"].endswith(path)
    assert api.simulate_get(path).headers["Range"] == "0-4"


def test_wrong_digest_missing_digest_and_malformed_digest(api):
    path = api.simulate_post("/v2/repo/blobs/uploads/").headers["Location"][len(BASE):]
    assert error_code(api.simulate_put(path)) == "DIGEST_INVALID"
    r = api.simulate_put(path, params={"digest": "sha256:nothex"}, body=b"abc")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    r = api.simulate_put(path, params={"digest": sha256(b"other")}, body=b"abc")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    for dg in (sha256(b"other"), sha256(b"abc")):
        assert error_code(api.simulate_get(f"/v2/repo/blobs/{dg}")) == "BLOB_UNKNOWN"
    r = api.simulate_post("/v2/repo/blobs/uploads/", params={"digest": sha256(b"x")}, body=b"y")
    assert error_code(r) == "DIGEST_INVALID"
    assert not list(_blob_files(api.root))


def test_truncated_monolithic_body_is_refused_and_stores_nothing(api):
    data = b"z" * 1000
    # Content-Length promises more than the body carries: the client went away mid-upload.
    r = api.simulate_post("/v2/repo/blobs/uploads/", params={"digest": sha256(data)},
                          body=data[:500], headers={"Content-Length": "1000"})
    assert r.status_code == 400 and error_code(r) == "SIZE_INVALID"
    assert not list(_blob_files(api.root))


def test_cancel_upload(api):
    path = api.simulate_post("/v2/repo/blobs/uploads/").headers["Location"][len(BASE):]
    api.simulate_patch(path, body=b"abc")
    assert api.simulate_delete(path).status_code == 204
    assert error_code(api.simulate_patch(path, body=b"d")) == "BLOB_UPLOAD_UNKNOWN"
    assert error_code(api.simulate_delete(path)) == "BLOB_UPLOAD_UNKNOWN"


def test_mount_from_another_repository(api):
    dg = api.push_blob("src", b"shared layer")
    r = api.simulate_post("/v2/dst/blobs/uploads/", params={"mount": dg, "from": "src"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"{BASE}/v2/dst/blobs/{dg}"
    assert api.simulate_get(f"/v2/dst/blobs/{dg}").content == b"shared layer"
    # Nothing to mount: a normal upload session.
    r = api.simulate_post("/v2/dst/blobs/uploads/", params={"mount": sha256(b"no"), "from": "src"})
    assert r.status_code == 202 and r.headers["Docker-Upload-UUID"]


def test_blob_delete(api):
    dg = api.push_blob("repo", b"to delete")
    assert api.simulate_delete(f"/v2/repo/blobs/{dg}").status_code == 202
    assert error_code(api.simulate_get(f"/v2/repo/blobs/{dg}")) == "BLOB_UNKNOWN"
    assert error_code(api.simulate_delete(f"/v2/repo/blobs/{dg}")) == "BLOB_UNKNOWN"


def test_blob_in_another_repository_is_unknown(api):
    dg = api.push_blob("one", b"private")
    r = api.simulate_get(f"/v2/two/blobs/{dg}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"


def test_invalid_names(api):
    for path in ("/v2/UPPER/blobs/uploads/", "/v2/a/../b/blobs/uploads/",
                 "/v2/" + "a" * 256 + "/blobs/uploads/", "/v2/a//b/blobs/uploads/"):
        r = api.simulate_post(path)
        assert r.status_code == 400 and error_code(r) == "NAME_INVALID", path
    assert not os.path.exists(os.path.join(api.root, "docker"))


def test_sha512_blob(api):
    import hashlib

    data = b"sha512 blob"
    dg = "sha512:" + hashlib.sha512(data).hexdigest()
    r = api.simulate_post("/v2/repo/blobs/uploads/", params={"digest": dg}, body=data)
    assert r.status_code == 201
    assert api.simulate_get(f"/v2/repo/blobs/{dg}").content == data


def test_delete_disabled_is_unsupported(tmp_path):
    api = build_api(tmp_path)
    dg = api.push_blob("repo", b"kept")
    r = api.simulate_delete(f"/v2/repo/blobs/{dg}")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
    assert api.simulate_get(f"/v2/repo/blobs/{dg}").status_code == 200
    # Cancelling an upload is not a delete of content.
    path = api.simulate_post("/v2/repo/blobs/uploads/").headers["Location"][len(BASE):]
    assert api.simulate_delete(path).status_code == 204


def test_readonly_refuses_every_write_and_serves_reads(tmp_path):
    writable = build_api(tmp_path, delete={"enabled": True})
    digest, _ = writable.push_image("repo", "v1")
    ro = build_api(tmp_path, delete={"enabled": True},
                   maintenance={"readonly": {"enabled": True}})
    assert ro.simulate_get("/v2/repo/manifests/v1").status_code == 200
    assert ro.simulate_get("/v2/repo/tags/list").json["tags"] == ["v1"]
    writes = [
        ro.simulate_post("/v2/repo/blobs/uploads/"),
        ro.simulate_post("/v2/repo/blobs/uploads/", params={"digest": sha256(b"x")}, body=b"x"),
        ro.simulate_put("/v2/repo/manifests/v2", body=b"{}"),
        ro.simulate_delete(f"/v2/repo/manifests/{digest}"),
        ro.simulate_patch("/v2/repo/blobs/uploads/3f1e0d1c-8a32-4c5e-9b1a-2d6f3e4a5b6c", body=b"x"),
    ]
    for r in writes:
        assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
    assert ro.events and all(e["action"] == "pull" for e in ro.events)


def test_unknown_route_is_a_json_404(api):
    r = api.simulate_get("/v3/whatever")
    assert r.status_code == 404
    assert "errors" in r.json


def _blob_files(root):
    blobs = os.path.join(root, "docker", "registry", "v2", "blobs")
    for dirpath, _, files in os.walk(blobs):
        for f in files:
            yield os.path.join(dirpath, f)


def test_http_prefix_and_relative_urls(tmp_path):
    from falcon import testing

    from services.registry.http import create_app
    from shared.config import parse_config
    from shared.events import RecordingSink

    sink = RecordingSink()
    config = parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}},
                           "http": {"addr": ":5000", "prefix": "/registry/",
                                    "relativeurls": True}})
    client = testing.TestClient(create_app(config, sink=sink), headers={"Host": "h:1"})
    assert client.simulate_get("/v2/").status_code == 404
    r = client.simulate_post("/registry/v2/r/blobs/uploads/")
    assert r.status_code == 202
    assert r.headers["Location"].startswith("/registry/v2/r/blobs/uploads/")
    r = client.simulate_put(r.headers["Location"], params={"digest": sha256(b"p")}, body=b"p")
    assert r.headers["Location"] == f"/registry/v2/r/blobs/{sha256(b'p')}"
    assert sink.events[0].target.url == f"http://h:1/registry/v2/r/blobs/{sha256(b'p')}"
