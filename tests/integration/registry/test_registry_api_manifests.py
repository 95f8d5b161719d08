"""Manifest, tag, catalog and referrers endpoints through the real Falcon app."""

import json

from tests.integration.registry.registry_api import (
    BASE,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    error_code,
    sha256,
)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def test_push_and_pull_by_tag_and_digest(api):
    digest, body = api.push_image("demo/app", "v1")
    for ref in ("v1", digest):
        r = api.simulate_get(f"/v2/demo/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == body
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest
        h = api.simulate_head(f"/v2/demo/app/manifests/{ref}")
        assert h.status_code == 200 and h.headers["Content-Length"] == str(len(body))
        assert h.content == b""


def test_put_response_headers(api):
    for blob in (b"{}", b"l"):
        api.push_blob("r", blob)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": sha256(b"{}"), "size": 2},
                       "layers": [{"mediaType": OCI_LAYER, "digest": sha256(b"l"), "size": 1}]})
    r = api.simulate_put("/v2/r/manifests/latest", body=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert r.headers["Location"] == f"{BASE}/v2/r/manifests/{sha256(body.encode())}"
    assert r.headers["Docker-Content-Digest"] == sha256(body.encode())
    assert "OCI-Subject" not in r.headers


def test_docker_schema2_and_manifest_list(api):
    api.push_blob("d", b"cfg")
    api.push_blob("d", b"layer")
    child = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                   "digest": sha256(b"cfg"), "size": 3},
                        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                    "digest": sha256(b"layer"), "size": 5}]}).encode()
    r = api.simulate_put(f"/v2/d/manifests/{sha256(child)}", body=child,
                         headers={"Content-Type": DOCKER_MANIFEST})
    assert r.status_code == 201, r.text
    lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": sha256(child), "size": len(child),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    assert api.simulate_put("/v2/d/manifests/multi", body=lst,
                            headers={"Content-Type": DOCKER_LIST}).status_code == 201
    r = api.simulate_get("/v2/d/manifests/multi", headers={"Accept": DOCKER_LIST})
    assert r.headers["Content-Type"] == DOCKER_LIST and r.content == lst


def test_manifest_errors(api):
    api.push_blob("r", b"{}")
    missing_layer = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {"mediaType": OCI_CONFIG, "digest": sha256(b"{}"), "size": 2},
                                "layers": [{"mediaType": OCI_LAYER, "digest": sha256(b"?"), "size": 1}]})
    unknown_child = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(b"nope"), "size": 1}]})
    cases = [
        (missing_layer, OCI_MANIFEST, 400, "MANIFEST_BLOB_UNKNOWN"),
        ("{not json", OCI_MANIFEST, 400, "MANIFEST_INVALID"),
        (unknown_child, OCI_INDEX, 400, "MANIFEST_BLOB_UNKNOWN"),  # as the reference
        ("x" * (4 * 1024 * 1024 + 1), OCI_MANIFEST, 413, "SIZE_INVALID"),
    ]
    for body, ctype, status, code in cases:
        r = api.simulate_put("/v2/r/manifests/v1", body=body, headers={"Content-Type": ctype})
        assert (r.status_code, error_code(r)) == (status, code)
    r = api.simulate_put(f"/v2/r/manifests/{sha256(b'x')}", body=missing_layer,
                         headers={"Content-Type": OCI_MANIFEST})
    assert error_code(r) in ("DIGEST_INVALID",)
    r = api.simulate_put("/v2/r/manifests/bad:tag!", body=b"{}")
    assert r.status_code == 400
    assert error_code(api.simulate_get("/v2/r/manifests/v1")) == "MANIFEST_UNKNOWN"
    assert error_code(api.simulate_get("/v2/r/manifests/sha256:123")) == "DIGEST_INVALID"
    assert error_code(api.simulate_get("/v2/r/tags/list")) == "NAME_UNKNOWN"
    assert api.events == [] or all(e["action"] == "push" for e in api.events)


def test_delete_by_digest_and_by_tag(api):
    digest, _ = api.push_image("r", "v1")
    api.push_image("r", "v1-alias")
    assert api.simulate_get("/v2/r/tags/list").json == {"name": "r", "tags": ["v1", "v1-alias"]}
    assert api.simulate_delete(f"/v2/r/manifests/{digest}").status_code == 202
    assert api.simulate_get("/v2/r/tags/list").json["tags"] == []
    assert error_code(api.simulate_get(f"/v2/r/manifests/{digest}")) == "MANIFEST_UNKNOWN"
    assert error_code(api.simulate_delete(f"/v2/r/manifests/{digest}")) == "MANIFEST_UNKNOWN"
    digest, _ = api.push_image("r", "v2")
    assert api.simulate_delete("/v2/r/manifests/v2").status_code == 202
    assert error_code(api.simulate_get("/v2/r/manifests/v2")) == "MANIFEST_UNKNOWN"
    assert api.simulate_get(f"/v2/r/manifests/{digest}").status_code == 200


def test_tags_pagination_with_link(api):
    for tag in ("d", "b", "a", "c", "e"):
        api.push_image("r", tag)
    r = api.simulate_get("/v2/r/tags/list", params={"n": "2"})
    assert r.json["tags"] == ["a", "b"]
    assert r.headers["Link"] == '</v2/r/tags/list?last=b&n=2>; rel="next"'
    r = api.simulate_get("/v2/r/tags/list", params={"n": "2", "last": "d"})
    assert r.json["tags"] == ["e"] and "Link" not in r.headers
    assert api.simulate_get("/v2/r/tags/list").json["tags"] == ["a", "b", "c", "d", "e"]
    r = api.simulate_get("/v2/r/tags/list", params={"n": "-1"})
    assert r.status_code == 400


def test_catalog_pagination(api):
    for name in ("zeta", "alpha/one", "beta"):
        api.push_image(name, "v1")
    assert api.simulate_get("/v2/_catalog").json == {"repositories": ["alpha/one", "beta", "zeta"]}
    r = api.simulate_get("/v2/_catalog", params={"n": "2"})
    assert r.json["repositories"] == ["alpha/one", "beta"]
    assert r.headers["Link"] == '</v2/_catalog?last=beta&n=2>; rel="next"'
    r = api.simulate_get("/v2/_catalog", params={"n": "2", "last": "beta"})
    assert r.json["repositories"] == ["zeta"] and "Link" not in r.headers


def test_subject_and_referrers(api):
    subject_digest, subject_body = api.push_image("r", "v1")
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_body)}
    api.push_blob("r", b"{}")
    sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "artifactType": "application/vnd.example.signature",
                      "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                 "digest": sha256(b"{}"), "size": 2},
                      "layers": [], "subject": subject,
                      "annotations": {"org.example": "yes"}}).encode()
    r = api.simulate_put(f"/v2/r/manifests/{sha256(sig)}", body=sig,
                         headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert r.headers["OCI-Subject"] == subject_digest
    r = api.simulate_get(f"/v2/r/referrers/{subject_digest}")
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
    assert r.json == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(sig), "size": len(sig),
         "artifactType": "application/vnd.example.signature",
         "annotations": {"org.example": "yes"}}]}
    assert "OCI-Filters-Applied" not in r.headers
    r = api.simulate_get(f"/v2/r/referrers/{subject_digest}",
                         params={"artifactType": "application/vnd.example.sbom"})
    assert r.json["manifests"] == [] and r.headers["OCI-Filters-Applied"] == "artifactType"
    r = api.simulate_get(f"/v2/r/referrers/{subject_digest}",
                         params={"artifactType": "application/vnd.example.signature"})
    assert len(r.json["manifests"]) == 1
    assert api.simulate_get(f"/v2/r/referrers/{sha256(b'none')}").json["manifests"] == []
    assert error_code(api.simulate_get("/v2/r/referrers/sha256:bad")) == "DIGEST_INVALID"


def test_accept_negotiation(api):
    digest, body = api.push_image("n", "v1")
    ok = [None, OCI_MANIFEST, f"{DOCKER_MANIFEST}, {OCI_MANIFEST}", "*/*", "application/json"]
    for accept in ok:
        headers = {"Accept": accept} if accept else {}
        r = api.simulate_get("/v2/n/manifests/v1", headers=headers)
        assert r.status_code == 200 and r.content == body, accept
    api.clear()
    r = api.simulate_get("/v2/n/manifests/v1", headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
    assert api.events == []


def test_index_falls_back_to_the_linux_amd64_image_for_clients_without_index_support(api):
    digest, body = api.push_image("n", "amd")
    idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    assert api.simulate_put("/v2/n/manifests/multi", body=idx,
                            headers={"Content-Type": OCI_INDEX}).status_code == 201
    r = api.simulate_get("/v2/n/manifests/multi", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200 and r.content == body
    assert r.headers["Docker-Content-Digest"] == digest
    r = api.simulate_get("/v2/n/manifests/multi", headers={"Accept": f"{OCI_INDEX},{OCI_MANIFEST}"})
    assert r.content == idx
    # Asked for by digest, the index is the only right answer: a client that cannot read it
    # is told so, not handed a manifest with another digest.
    r = api.simulate_get(f"/v2/n/manifests/{sha256(idx)}", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
