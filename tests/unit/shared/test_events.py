import json
import re

from shared.events import Event, RequestRecord, Source, Target, rfc3339_now, routing_key_for

REQUEST = RequestRecord(id="r1", addr="127.0.0.1:40000", host="127.0.0.1:5000", method="PUT",
                        useragent="skopeo/1.9.3")
SOURCE = Source(addr="vm:5000", instance_id="i1")
DIGEST = "sha256:" + "a" * 64


def test_manifest_push_has_the_references_fields_in_order():
    event = Event(kind="manifest", action="push", request=REQUEST, source=SOURCE, target=Target(
        repository="demo/app", digest=DIGEST, media_type="application/vnd.oci.image.manifest.v1+json",
        size=561, url=f"http://127.0.0.1:5000/v2/demo/app/manifests/{DIGEST}", tag="v1"))
    body = json.loads(event.to_json())
    assert list(body) == ["id", "timestamp", "action", "target", "request", "actor", "source"]
    assert list(body["target"]) == ["mediaType", "size", "digest", "length", "repository", "url", "tag"]
    assert body["target"]["length"] == body["target"]["size"] == 561
    assert body["actor"] == {}
    assert body["source"] == {"addr": "vm:5000", "instanceID": "i1"}
    assert event.routing_key == "manifest.push"
    assert routing_key_for(body) == "manifest.push"


def test_delete_carries_only_digest_and_repository():
    event = Event(kind="blob", action="delete", request=REQUEST, source=SOURCE, actor="alice",
                  target=Target(repository="demo/app", digest=DIGEST))
    body = event.to_dict()
    assert body["target"] == {"digest": DIGEST, "repository": "demo/app"}
    assert body["actor"] == {"name": "alice"}


def test_mount_names_the_source_repository():
    target = Target(repository="demo/mirror", digest=DIGEST, media_type="application/octet-stream",
                    size=3, from_repository="demo/app", url="http://h/v2/demo/mirror/blobs/x")
    assert list(target.to_dict()) == [
        "mediaType", "size", "digest", "length", "repository", "fromRepository", "url"]
    assert routing_key_for({"action": "mount", "target": target.to_dict()}) == "blob.mount"


def test_timestamps_are_rfc3339_utc_with_nanoseconds():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", rfc3339_now())


def test_each_event_gets_its_own_id():
    make = lambda: Event(kind="blob", action="pull", request=REQUEST, source=SOURCE,  # noqa: E731
                         target=Target(repository="r", digest=DIGEST))
    assert make().id != make().id
