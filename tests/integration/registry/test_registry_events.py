"""Events: one per successful operation, in the reference's exact shape; none for failures."""

import base64
import socket

import bcrypt
import pytest
from falcon import testing

from services.registry.events.bridge import instance_id
from services.registry.http import create_app
from shared.config import parse_config
from shared.events import RecordingSink
from tests.integration.registry.registry_api import (
    BASE,
    HOST,
    OCI_MANIFEST,
    Api,
    build_api,
    sha256,
)

SOURCE = {"addr": f"{socket.gethostname()}:5000", "instanceID": instance_id()}


def _request(event, method):
    req = event["request"]
    assert set(req) == {"id", "addr", "host", "method", "useragent"}
    assert req["host"] == HOST and req["method"] == method and req["useragent"] == "test-client/1.0"
    assert req["addr"].startswith("127.0.0.1:")
    assert event["source"] == SOURCE
    assert event["actor"] == {}
    assert event["timestamp"].endswith("Z")


def _blob_target(repo, data, **extra):
    return {"mediaType": "application/octet-stream", "size": len(data), "digest": sha256(data),
            "length": len(data), "repository": repo, **extra,
            "url": f"{BASE}/v2/{repo}/blobs/{sha256(data)}"}


def test_blob_push_by_put_and_by_post(api):
    path = api.simulate_post("/v2/demo/app/blobs/uploads/").headers["Location"][len(BASE):]
    api.simulate_patch(path, body=b"chunk")
    assert api.events == []  # starting and appending are not operations of their own
    api.simulate_put(path, params={"digest": sha256(b"chunk")})
    api.push_blob("demo/app", b"mono")
    (put, post) = api.events
    assert put["action"] == "push" and put["target"] == _blob_target("demo/app", b"chunk")
    _request(put, "PUT")
    assert list(put["target"]) == ["mediaType", "size", "digest", "length", "repository", "url"]
    assert post["target"] == _blob_target("demo/app", b"mono")
    _request(post, "POST")
    assert put["id"] != post["id"] and put["request"]["id"] != post["request"]["id"]


def test_blob_pulls_on_get_head_and_range(api):
    api.push_blob("demo/app", b"pull me")
    api.clear()
    dg = sha256(b"pull me")
    api.simulate_head(f"/v2/demo/app/blobs/{dg}")
    api.simulate_get(f"/v2/demo/app/blobs/{dg}")
    api.simulate_get(f"/v2/demo/app/blobs/{dg}", headers={"Range": "bytes=0-1"})
    assert [e["action"] for e in api.events] == ["pull"] * 3
    for event, method in zip(api.events, ("HEAD", "GET", "GET"), strict=True):
        assert event["target"] == _blob_target("demo/app", b"pull me")
        _request(event, method)


def test_mount_event_has_from_repository(api):
    dg = api.push_blob("demo/app", b"layer")
    api.clear()
    api.simulate_post("/v2/demo/mirror/blobs/uploads/", params={"mount": dg, "from": "demo/app"})
    (mount,) = api.events
    assert mount["action"] == "mount"
    assert mount["target"] == _blob_target("demo/mirror", b"layer", fromRepository="demo/app")
    assert list(mount["target"])[5] == "fromRepository"
    _request(mount, "POST")
    api.clear()
    api.simulate_post("/v2/demo/other/blobs/uploads/", params={"mount": sha256(b"x"), "from": "demo/app"})
    assert api.events == []


def test_manifest_push_pull_by_tag_and_digest(api):
    digest, body = api.push_image("demo/app", "v1")
    push = api.events[-1]
    assert push["action"] == "push"
    assert push["target"] == {"mediaType": OCI_MANIFEST, "size": len(body), "digest": digest,
                              "length": len(body), "repository": "demo/app",
                              "url": f"{BASE}/v2/demo/app/manifests/{digest}", "tag": "v1"}
    _request(push, "PUT")
    api.clear()
    api.simulate_get("/v2/demo/app/manifests/v1")
    api.simulate_head("/v2/demo/app/manifests/v1")
    api.simulate_get(f"/v2/demo/app/manifests/{digest}")
    api.simulate_head(f"/v2/demo/app/manifests/{digest}")
    pulls = api.events
    assert [e["action"] for e in pulls] == ["pull"] * 4
    assert [e["target"].get("tag") for e in pulls] == ["v1", "v1", None, None]
    assert [e["request"]["method"] for e in pulls] == ["GET", "HEAD", "GET", "HEAD"]
    for e in pulls:
        assert e["target"]["url"] == f"{BASE}/v2/demo/app/manifests/{digest}"
        assert "references" not in e["target"]


def test_push_by_digest_has_no_tag(api):
    api.push_image("demo/app", "v1")
    body = api.simulate_get("/v2/demo/app/manifests/v1").content
    api.clear()
    api.simulate_put(f"/v2/demo/app/manifests/{sha256(body)}", body=body,
                     headers={"Content-Type": OCI_MANIFEST})
    (push,) = api.events
    assert "tag" not in push["target"] and push["target"]["digest"] == sha256(body)


def test_manifest_delete_then_its_tags(api):
    digest, _ = api.push_image("demo/app", "v1")
    api.push_image("demo/app", "v1-alias")
    api.clear()
    api.simulate_delete(f"/v2/demo/app/manifests/{digest}")
    assert [e["target"] for e in api.events] == [
        {"digest": digest, "repository": "demo/app"},
        {"repository": "demo/app", "tag": "v1"},
        {"repository": "demo/app", "tag": "v1-alias"},
    ]
    assert all(e["action"] == "delete" for e in api.events)
    _request(api.events[0], "DELETE")


def test_tag_delete_and_blob_delete(api):
    api.push_image("demo/app", "v2")
    dg = api.push_blob("demo/app", b"unused")
    api.clear()
    api.simulate_delete("/v2/demo/app/manifests/v2")
    api.simulate_delete(f"/v2/demo/app/blobs/{dg}")
    assert [(e["action"], e["target"]) for e in api.events] == [
        ("delete", {"repository": "demo/app", "tag": "v2"}),
        ("delete", {"digest": dg, "repository": "demo/app"}),
    ]
    assert [e.kind for e in api.sink.events] == ["tag", "blob"]


def test_no_event_for_any_failed_operation(api):
    digest, _ = api.push_image("demo/app", "v1")
    api.clear()
    failures = [
        api.simulate_get(f"/v2/demo/app/blobs/{sha256(b'missing')}"),
        api.simulate_head(f"/v2/demo/app/blobs/{sha256(b'missing')}"),
        api.simulate_get("/v2/demo/app/blobs/sha256:zz"),
        api.simulate_get("/v2/demo/app/manifests/nope"),
        api.simulate_get("/v2/other/manifests/v1"),
        api.simulate_post("/v2/demo/app/blobs/uploads/", params={"digest": sha256(b"a")}, body=b"b"),
        api.simulate_put("/v2/demo/app/manifests/v9", body=b"{bad", headers={"Content-Type": OCI_MANIFEST}),
        api.simulate_delete(f"/v2/demo/app/blobs/{sha256(b'missing')}"),
        api.simulate_delete("/v2/demo/app/manifests/nope"),
        api.simulate_delete(f"/v2/demo/app/manifests/{sha256(b'missing')}"),
        api.simulate_get(f"/v2/demo/app/blobs/{digest}", headers={"Range": "bytes=99999-"}),
        api.simulate_post("/v2/BAD/blobs/uploads/", params={"mount": digest, "from": "demo/app"}),
    ]
    assert all(r.status_code >= 400 for r in failures), [r.status_code for r in failures]
    assert api.events == []


def test_no_event_when_deletes_are_disabled(tmp_path):
    api = build_api(tmp_path)
    digest, _ = api.push_image("demo/app", "v1")
    api.clear()
    assert api.simulate_delete(f"/v2/demo/app/manifests/{digest}").status_code == 405
    assert api.events == []


def test_include_references(tmp_path):
    sink = RecordingSink()
    config = parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}},
                           "http": {"addr": ":5000"},
                           "notifications": {"events": {"includereferences": True}}})
    api = Api(testing.TestClient(create_app(config, sink=sink),
                                 headers={"Host": HOST, "User-Agent": "test-client/1.0"}),
              sink, str(tmp_path))
    config_blob = b'{"architecture":"amd64","os":"linux"}'
    digest, _ = api.push_image("demo/app", "v1", layers=(b"l1", b"l2"), config=config_blob)
    api.simulate_get("/v2/demo/app/manifests/v1")
    refs = [sha256(config_blob), sha256(b"l1"), sha256(b"l2")]
    push, pull = api.events[-2:]
    assert push["target"]["references"] == refs
    assert pull["target"]["references"] == refs
    assert "references" not in api.events[0]["target"]  # blob events never have them


def test_http_host_sets_the_event_url(tmp_path):
    sink = RecordingSink()
    config = parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}},
                           "http": {"addr": ":5000", "host": "https://registry.example.com"}})
    client = testing.TestClient(create_app(config, sink=sink), headers={"Host": HOST})
    api = Api(client, sink, str(tmp_path))
    dg = api.push_blob("r", b"x")
    assert api.events[0]["target"]["url"] == f"https://registry.example.com/v2/r/blobs/{dg}"


@pytest.fixture
def htpasswd_api(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("alice:" + bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode() + "\n")
    sink = RecordingSink()
    config = parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path / "root")}},
                           "http": {"addr": ":5000"},
                           "auth": {"htpasswd": {"realm": "test-realm", "path": str(path)}}})
    return Api(testing.TestClient(create_app(config, sink=sink), headers={"Host": HOST}),
               sink, str(tmp_path))


def _basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_authenticated_user_is_the_actor_and_bad_credentials_get_401(htpasswd_api):
    api = htpasswd_api
    r = api.simulate_get("/v2/")
    assert r.status_code == 401
    assert r.json["errors"][0]["code"] == "UNAUTHORIZED"
    assert "test-realm" in r.headers["WWW-Authenticate"]
    r = api.simulate_post("/v2/r/blobs/uploads/", params={"digest": sha256(b"x")}, body=b"x",
                          headers=_basic("alice", "wrong"))
    assert r.status_code == 401
    assert api.events == []
    assert api.simulate_get("/v2/", headers=_basic("alice", "secret")).status_code == 200
    r = api.simulate_post("/v2/r/blobs/uploads/", params={"digest": sha256(b"x")}, body=b"x",
                          headers=_basic("alice", "secret"))
    assert r.status_code == 201
    assert api.events[0]["actor"] == {"name": "alice"}
