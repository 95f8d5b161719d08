"""Manifests, tags and referrers in the domain."""

import json

import pytest

from services.registry.domain import layout
from services.registry.domain.errors import RegistryError
from services.registry.domain.manifests import MAX_MANIFEST_SIZE
from services.registry.domain.registry import Registry
from services.registry.storage.inmemory import InMemoryDriver
from tests.unit.registry.registry_builders import (
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    digest,
    image_manifest,
    index,
)

CONFIG, LAYER = b'{"architecture":"amd64"}', b"layer bytes"


@pytest.fixture
def reg():
    r = Registry(InMemoryDriver())
    for blob in (CONFIG, LAYER):
        r.put_blob("repo", digest(blob), [blob])
    return r


def test_put_by_tag_then_get_by_tag_and_digest(reg):
    body = image_manifest(CONFIG, [LAYER])
    m = reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    assert m.digest == digest(body)
    assert m.references == (digest(CONFIG), digest(LAYER))
    for ref in ("v1", m.digest):
        got = reg.get_manifest("repo", ref)
        assert (got.content, got.media_type, got.digest) == (body, OCI_MANIFEST, m.digest)
    assert reg.list_tags("repo") == (["v1"], False)


def test_media_type_is_inferred_when_the_manifest_leaves_it_out(reg):
    doc = json.loads(image_manifest(CONFIG, [LAYER]))
    del doc["mediaType"]
    body = json.dumps(doc).encode()
    assert reg.put_manifest("repo", "v1", body, None).media_type == OCI_MANIFEST


def test_missing_blob_is_manifest_blob_unknown_and_nothing_is_stored(reg):
    body = image_manifest(CONFIG, [b"never uploaded"])
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    assert err.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert not reg.driver.exists(layout.blob_data(digest(body)))
    with pytest.raises(RegistryError):
        reg.list_tags("repo")


def test_blob_of_another_repository_does_not_count(reg):
    reg.put_blob("other", digest(b"elsewhere"), [b"elsewhere"])
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", image_manifest(CONFIG, [b"elsewhere"]), OCI_MANIFEST)
    assert err.value.code == "MANIFEST_BLOB_UNKNOWN"


def test_index_needs_its_children(reg):
    child = image_manifest(CONFIG, [LAYER])
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "multi", index([child]), OCI_INDEX)
    # The reference's answer (clients and conformance suites expect it): a 400, the push is
    # at fault, not a 404 that reads as "no such repository".
    assert (err.value.code, err.value.status) == ("MANIFEST_BLOB_UNKNOWN", 400)
    assert err.value.detail == {"digests": [digest(child)]}
    reg.put_manifest("repo", digest(child), child, OCI_MANIFEST)
    m = reg.put_manifest("repo", "multi", index([child]), OCI_INDEX)
    assert m.references == (digest(child),)


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"schemaVersion": 1}', b'{"schemaVersion": 2, "mediaType": "x/y"}',
    b'{"schemaVersion": 2, "config": {"digest": "sha256:zz", "size": 1}}',
    b'{"schemaVersion": 2, "config": {"digest": "' + digest(CONFIG).encode() + b'"}}',
    b"[" * 100_000,  # deeper than the JSON parser recurses
    b'{"schemaVersion": 2, "annotations": ' + b'{"a": ' * 100_000,
], ids=["text", "array", "schema1", "unknown-type", "bad-digest", "no-size", "deep-array",
        "deep-object"])
def test_malformed_manifests_are_manifest_invalid(reg, body):
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    assert err.value.code == "MANIFEST_INVALID"


def test_content_type_must_agree_with_the_manifest(reg):
    body = image_manifest(CONFIG, [LAYER])
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", body, OCI_INDEX)
    assert err.value.code == "MANIFEST_INVALID"


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


@pytest.mark.parametrize("declared,key", [(DOCKER_MANIFEST, "config"), (DOCKER_LIST, "manifests")])
def test_a_docker_manifest_without_its_media_type_is_refused(reg, declared, key):
    # Stored, it would be served back as OCI: another type than the client pushed.
    doc = json.loads(image_manifest(CONFIG, [LAYER]) if key == "config" else index([]))
    del doc["mediaType"]
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", json.dumps(doc).encode(), declared)
    assert err.value.code == "MANIFEST_INVALID"


def test_a_media_type_that_is_not_a_string_is_refused(reg):
    doc = json.loads(image_manifest(CONFIG, [LAYER]))
    doc["mediaType"] = 5
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", json.dumps(doc).encode(), OCI_MANIFEST)
    assert err.value.code == "MANIFEST_INVALID"


def test_put_by_wrong_digest_is_digest_invalid(reg):
    body = image_manifest(CONFIG, [LAYER])
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", digest(b"other"), body, OCI_MANIFEST)
    assert err.value.code == "DIGEST_INVALID"


def test_put_by_sha512_digest(reg):
    body = image_manifest(CONFIG, [LAYER])
    m = reg.put_manifest("repo", digest(body, "sha512"), body, OCI_MANIFEST)
    assert m.digest.startswith("sha512:")
    assert reg.get_manifest("repo", m.digest).content == body


def test_oversize_manifest_is_413(reg):
    with pytest.raises(RegistryError) as err:
        reg.put_manifest("repo", "v1", b" " * (MAX_MANIFEST_SIZE + 1), OCI_MANIFEST)
    assert err.value.status == 413


def test_delete_by_digest_removes_the_tags_pointing_at_it(reg):
    body = image_manifest(CONFIG, [LAYER])
    m = reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    reg.put_manifest("repo", "v2", body, OCI_MANIFEST)
    other = image_manifest(CONFIG, [])
    reg.put_manifest("repo", "keep", other, OCI_MANIFEST)
    deleted, tags = reg.delete_manifest("repo", m.digest)
    assert deleted.digest == m.digest and tags == ["v1", "v2"]
    assert reg.list_tags("repo") == (["keep"], False)
    with pytest.raises(RegistryError) as err:
        reg.get_manifest("repo", m.digest)
    assert err.value.code == "MANIFEST_UNKNOWN"


def test_delete_tag_keeps_the_manifest(reg):
    m = reg.put_manifest("repo", "v1", image_manifest(CONFIG, [LAYER]), OCI_MANIFEST)
    assert reg.delete_tag("repo", "v1") == m.digest
    assert reg.get_manifest("repo", m.digest).digest == m.digest
    with pytest.raises(RegistryError) as err:
        reg.delete_tag("repo", "v1")
    assert err.value.code == "MANIFEST_UNKNOWN"


def test_tags_pagination(reg):
    body = image_manifest(CONFIG, [LAYER])
    for tag in ("c", "a", "b", "d"):
        reg.put_manifest("repo", tag, body, OCI_MANIFEST)
    assert reg.list_tags("repo", 2) == (["a", "b"], True)
    assert reg.list_tags("repo", 2, "b") == (["c", "d"], False)
    assert reg.list_tags("repo", None, "a") == (["b", "c", "d"], False)
    with pytest.raises(RegistryError) as err:
        reg.list_tags("unknown")
    assert err.value.code == "NAME_UNKNOWN"


def test_catalog_lists_repositories_with_manifests_or_blobs(reg):
    body = image_manifest(CONFIG, [LAYER])
    reg.put_manifest("repo", "v1", body, OCI_MANIFEST)
    for name in ("z/deep/name", "b"):
        for blob in (CONFIG, LAYER):
            reg.put_blob(name, digest(blob), [blob])
        reg.put_manifest(name, "v1", body, OCI_MANIFEST)
    # Blobs alone make a repository, as in the reference; a bare upload session does not.
    reg.put_blob("only-blobs", digest(b"x"), [b"x"])
    reg.put_blob("z", digest(b"y"), [b"y"])  # a repository whose name is another's prefix
    reg.start_upload("only-an-upload")
    assert reg.catalog() == (["b", "only-blobs", "repo", "z", "z/deep/name"], False)
    assert reg.catalog(2) == (["b", "only-blobs"], True)
    assert reg.catalog(2, "repo") == (["z", "z/deep/name"], False)


def test_referrers_with_artifact_type_filter(reg):
    subject_body = image_manifest(CONFIG, [LAYER])
    subject = reg.put_manifest("repo", "v1", subject_body, OCI_MANIFEST)
    subject_desc = descriptor(subject_body, OCI_MANIFEST)
    sig = reg.put_manifest("repo", "sig", image_manifest(
        CONFIG, [], subject=subject_desc, artifact_type="application/vnd.example.sig",
        annotations={"k": "v"}), OCI_MANIFEST)
    sbom = reg.put_manifest("repo", "sbom", image_manifest(
        CONFIG, [], subject=subject_desc, artifact_type="application/vnd.example.sbom"),
        OCI_MANIFEST)
    assert sig.subject == subject.digest
    all_refs = reg.referrers("repo", subject.digest)
    assert {r["digest"] for r in all_refs} == {sig.digest, sbom.digest}
    only = reg.referrers("repo", subject.digest, "application/vnd.example.sig")
    assert only == [{"mediaType": OCI_MANIFEST, "digest": sig.digest, "size": sig.size,
                     "artifactType": "application/vnd.example.sig", "annotations": {"k": "v"}}]
    reg.delete_manifest("repo", sig.digest)
    assert [r["digest"] for r in reg.referrers("repo", subject.digest)] == [sbom.digest]
    assert reg.referrers("repo", digest(b"nothing refers to this")) == []


class RecordingDriver(InMemoryDriver):
    def __init__(self):
        super().__init__()
        self.groups: list[list[str]] = []

    def put_contents(self, items):
        self.groups.append([path for path, _ in items])
        super().put_contents(items)


def test_a_tagged_push_writes_its_files_together_content_first_tag_last():
    driver = RecordingDriver()
    r = Registry(driver)
    for blob in (CONFIG, LAYER):
        r.put_blob("repo", digest(blob), [blob])
    driver.groups.clear()
    body = image_manifest(CONFIG, [LAYER])
    d = digest(body)
    r.put_manifest("repo", "v1", body, OCI_MANIFEST)
    assert driver.groups == [[layout.blob_data(d), layout.revision_link("repo", d),
                              layout.tag_index_link("repo", "v1", d),
                              layout.tag_current_link("repo", "v1")]]
    # The same content again under another tag: stored once, only links written.
    r.put_manifest("repo", "v2", body, OCI_MANIFEST)
    assert driver.groups[1] == [layout.revision_link("repo", d),
                                layout.tag_index_link("repo", "v2", d),
                                layout.tag_current_link("repo", "v2")]
