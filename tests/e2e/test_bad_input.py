"""Bad input against a real server: the spec's error, and storage left as it was.

Every test wraps the bad request in :func:`storage_unchanged`, which compares the files of the
blobs tree and of the repository (upload state aside) before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket

import bcrypt
import pytest
import requests

pytestmark = pytest.mark.e2e

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_codes(response) -> list[str]:
    body = response.json() if isinstance(response, requests.Response) else response
    assert isinstance(body.get("errors"), list) and body["errors"], body
    for err in body["errors"]:
        assert isinstance(err.get("message"), str)
    return [e["code"] for e in body["errors"]]


@contextlib.contextmanager
def storage_unchanged(registry, repo: str | None = None):
    blobs_before = registry.blob_files()
    repo_before = registry.repository_files(repo) if repo else None
    yield
    assert registry.blob_files() == blobs_before, "the blobs tree changed"
    if repo:
        assert registry.repository_files(repo) == repo_before, f"repository {repo} changed"


def assert_no_blob(registry, repo: str, *digests: str) -> None:
    for digest in digests:
        r = requests.head(f"{registry.url}/v2/{repo}/blobs/{digest}")
        assert r.status_code == 404, f"{digest} is visible in {repo}"


def start_upload(registry, repo: str) -> str:
    r = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    return location if location.startswith("http") else registry.url + location


def push_blob(registry, repo: str, data: bytes) -> str:
    digest = digest_of(data)
    r = requests.put(start_upload(registry, repo), params={"digest": digest}, data=data)
    assert r.status_code == 201, r.text
    return digest


def raw_request(registry, method: str, path: str, body: bytes = b"",
                headers: dict | None = None) -> tuple[int, bytes]:
    """Send the path exactly as given (requests would normalise ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=15)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        conn.putheader(key, value)
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


# ------------------------------------------------------------------ blobs and uploads


def test_put_with_wrong_digest_is_refused(module_registry):
    reg, repo = module_registry, "bad/wrong-digest"
    data, other = os.urandom(4096), os.urandom(4096)
    with storage_unchanged(reg, repo):
        r = requests.put(start_upload(reg, repo), params={"digest": digest_of(other)}, data=data)
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
        # Monolithic POST too.
        r = requests.post(f"{reg.url}/v2/{repo}/blobs/uploads/",
                          params={"digest": digest_of(other)}, data=data)
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
    assert_no_blob(reg, repo, digest_of(data), digest_of(other))


def test_malformed_digest_is_400_not_500(module_registry):
    reg, repo = module_registry, "bad/malformed-digest"
    with storage_unchanged(reg, repo):
        r = requests.put(start_upload(reg, repo), params={"digest": "sha256:not-hex"}, data=b"x")
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]


def send_truncated(registry, method: str, path: str, data: bytes, headers: dict) -> bytes:
    """Promise ``len(data)`` bytes, send half, stop sending; returns the raw answer."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {
        "Host": registry.host, "Content-Type": "application/octet-stream",
        "Content-Length": str(len(data)), "Connection": "close", **headers}.items())
    with socket.create_connection(("127.0.0.1", registry.port), timeout=20) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + data[: len(data) // 2])
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def assert_refused_truncation(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    codes = error_codes(json.loads(body))
    assert set(codes) <= {"SIZE_INVALID", "DIGEST_INVALID", "BLOB_UPLOAD_INVALID"}, codes


def test_truncated_body_leaves_no_blob(module_registry):
    """Content-Length promises 64 KiB, 32 KiB arrive, the client stops sending."""
    reg, repo = module_registry, "bad/truncated"
    data = os.urandom(64 * 1024)
    digest = digest_of(data)
    with storage_unchanged(reg, repo):
        # The final PUT of an upload.
        path = start_upload(reg, repo).split(reg.host, 1)[1]
        sep = "&" if "?" in path else "?"
        assert_refused_truncation(send_truncated(reg, "PUT", f"{path}{sep}digest={digest}",
                                                 data, {}))
        # A PATCH chunk: the upload keeps none of the partial bytes.
        location = start_upload(reg, repo)
        answer = send_truncated(reg, "PATCH", location.split(reg.host, 1)[1], data,
                                {"Content-Range": f"0-{len(data) - 1}"})
        assert_refused_truncation(answer)
        status = requests.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-0"  # nothing kept (the reference's empty form)
    assert_no_blob(reg, repo, digest, digest_of(data[: len(data) // 2]))


def test_out_of_order_and_overlapping_chunks_get_416(module_registry):
    reg, repo = module_registry, "bad/chunks"
    data = os.urandom(30)
    with storage_unchanged(reg, repo):
        location = start_upload(reg, repo)
        first = requests.patch(location, data=data[:10], headers={
            "Content-Range": "0-9", "Content-Type": "application/octet-stream"})
        assert first.status_code == 202, first.text
        assert first.headers["Range"] == "0-9"
        location = first.headers["Location"]
        location = location if location.startswith("http") else reg.url + location

        for content_range, chunk in (("20-29", data[20:]), ("5-14", data[5:15])):
            r = requests.patch(location, data=chunk, headers={
                "Content-Range": content_range, "Content-Type": "application/octet-stream"})
            assert r.status_code == 416, (content_range, r.status_code, r.text)

        status = requests.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-9"
    assert_no_blob(reg, repo, digest_of(data), digest_of(data[:10]))

    # The upload is intact after the refusals: it finishes with the in-order bytes.
    done = requests.put(location, params={"digest": digest_of(data[:10])})
    assert done.status_code == 201, done.text
    assert requests.get(f"{reg.url}/v2/{repo}/blobs/{digest_of(data[:10])}").content == data[:10]


def test_closing_put_out_of_order_gets_416_and_keeps_the_session(module_registry):
    """A final chunk whose Content-Range does not start at the session's offset: refused as
    an out-of-order PATCH is, with the session and its Range kept, and the upload can go on."""
    reg, repo = module_registry, "bad/closing-range"
    data = os.urandom(30)
    with storage_unchanged(reg, repo):
        location = start_upload(reg, repo)
        first = requests.patch(location, data=data[:10], headers={
            "Content-Range": "0-9", "Content-Type": "application/octet-stream"})
        assert first.status_code == 202, first.text
        location = first.headers["Location"]
        location = location if location.startswith("http") else reg.url + location
        for content_range, chunk in (("20-29", data[20:]), ("5-24", data[5:25])):
            r = requests.put(location, params={"digest": digest_of(data)}, data=chunk, headers={
                "Content-Range": content_range, "Content-Type": "application/octet-stream"})
            assert r.status_code == 416, (content_range, r.status_code, r.text)
            assert error_codes(r) == ["RANGE_INVALID"]
            assert r.headers["Range"] == "0-9"
            assert r.headers["Docker-Upload-UUID"]
        status = requests.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-9"
    assert_no_blob(reg, repo, digest_of(data))
    done = requests.put(location, params={"digest": digest_of(data)}, data=data[10:], headers={
        "Content-Range": "10-29", "Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    assert requests.get(f"{reg.url}/v2/{repo}/blobs/{digest_of(data)}").content == data


# ------------------------------------------------------------------ names

BAD_NAMES = {
    "dot-dot": "bad/../escape",
    "leading-dot-dot": "../escape",
    "uppercase": "bad/UpperCase",
    "too-long": "bad/" + "a" * 256,
    "trailing-slash-sep": "bad//double",
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_invalid_repository_names(module_registry, name):
    reg = module_registry
    data = b"never stored"
    digest = digest_of(data)
    outside_before = set(os.listdir(reg.root.parent))
    with storage_unchanged(reg):
        status, body = raw_request(
            reg, "POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data,
            {"Content-Type": "application/octet-stream"},
        )
        assert status in (400, 404), (status, body[:200])
        assert error_codes(json.loads(body)) == ["NAME_INVALID"]

        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
        status, body = raw_request(reg, "PUT", f"/v2/{name}/manifests/latest", manifest,
                                   {"Content-Type": OCI_MANIFEST})
        assert status in (400, 404), (status, body[:200])
        assert error_codes(json.loads(body)) == ["NAME_INVALID"]

        status, body = raw_request(reg, "GET", f"/v2/{name}/tags/list")
        assert status in (400, 404), (status, body[:200])
    assert set(os.listdir(reg.root.parent)) == outside_before
    assert not (reg.root / "docker/registry/v2/escape").exists()


def test_too_long_name_is_400_name_invalid(module_registry):
    """Names are at most 255 characters (the reference 2.8 answers 500 UNKNOWN here)."""
    status, body = raw_request(module_registry, "GET", f"/v2/bad/{'a' * 256}/tags/list")
    assert status == 400
    assert error_codes(json.loads(body)) == ["NAME_INVALID"]


# ------------------------------------------------------------------ manifests


def image_manifest(config: str, config_size: int, layers: list[tuple[str, int]],
                   **extra) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config, "size": config_size},
        "layers": [{"mediaType": LAYER, "digest": d, "size": s} for d, s in layers],
        **extra,
    }).encode()


def put_manifest(reg, repo: str, ref: str, body: bytes) -> requests.Response:
    return requests.put(f"{reg.url}/v2/{repo}/manifests/{ref}", data=body,
                        headers={"Content-Type": OCI_MANIFEST})


def test_manifest_with_unknown_blob_is_refused(module_registry):
    reg, repo = module_registry, "bad/unknown-blob"
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = push_blob(reg, repo, config)
    missing = digest_of(b"this layer was never pushed")
    body = image_manifest(config_digest, len(config), [(missing, 27)])
    with storage_unchanged(reg, repo):
        r = put_manifest(reg, repo, "v1", body)
        assert r.status_code == 400
        assert "MANIFEST_BLOB_UNKNOWN" in error_codes(r)
    assert requests.get(f"{reg.url}/v2/{repo}/manifests/v1",
                        headers={"Accept": OCI_MANIFEST}).status_code == 404
    assert requests.get(f"{reg.url}/v2/{repo}/manifests/{digest_of(body)}",
                        headers={"Accept": OCI_MANIFEST}).status_code == 404


@pytest.mark.parametrize("index_type, child_type", [
    ("application/vnd.oci.image.index.v1+json", OCI_MANIFEST),
    ("application/vnd.docker.distribution.manifest.list.v2+json",
     "application/vnd.docker.distribution.manifest.v2+json"),
], ids=["oci-index", "docker-list"])
def test_index_with_a_missing_child_is_manifest_blob_unknown(module_registry, index_type,
                                                              child_type):
    """What the reference answers (clients and conformance suites expect it)."""
    reg, repo = module_registry, "bad/missing-child"
    push_blob(reg, repo, b"seed so the repository exists")
    missing = digest_of(b"a child manifest never pushed")
    body = json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": [
        {"mediaType": child_type, "digest": missing, "size": 30,
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    with storage_unchanged(reg, repo):
        r = requests.put(f"{reg.url}/v2/{repo}/manifests/multi", data=body,
                         headers={"Content-Type": index_type})
        assert r.status_code == 400, (r.status_code, r.text)
        assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]


FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"


def test_urls_do_not_excuse_a_missing_blob(module_registry):
    """``urls`` on a config or an ordinary layer does not skip the existence check, and a
    foreign layer's URL must be http(s) and allowed (by default none is, as in the
    reference): nothing is stored, and nothing is served back."""
    reg, repo = module_registry, "bad/urls"
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = push_blob(reg, repo, config)
    absent = digest_of(b"never pushed")
    base = json.loads(image_manifest(config_digest, len(config), []))
    with_config_urls = {**base, "config": {"mediaType": OCI_CONFIG, "digest": absent, "size": 12,
                                           "urls": ["https://example.com/config"]}}
    with_layer_urls = {**base, "layers": [{"mediaType": LAYER, "digest": absent, "size": 12,
                                           "urls": ["https://example.com/layer"]}]}
    passwd = {**base, "layers": [{"mediaType": FOREIGN_LAYER, "digest": absent, "size": 12,
                                  "urls": ["file:///etc/passwd"]}]}
    elsewhere = {**base, "layers": [{"mediaType": FOREIGN_LAYER, "digest": absent, "size": 12,
                                     "urls": ["https://example.com/layer"]}]}
    cases = [(with_config_urls, "MANIFEST_BLOB_UNKNOWN"), (with_layer_urls, "MANIFEST_BLOB_UNKNOWN"),
             (passwd, "MANIFEST_INVALID"), (elsewhere, "MANIFEST_INVALID")]
    with storage_unchanged(reg, repo):
        for doc, code in cases:
            body = json.dumps(doc).encode()
            r = put_manifest(reg, repo, "v1", body)
            assert r.status_code == 400, (doc, r.status_code, r.text)
            assert error_codes(r) == [code], doc
            assert requests.get(f"{reg.url}/v2/{repo}/manifests/{digest_of(body)}",
                                headers={"Accept": OCI_MANIFEST}).status_code == 404


def test_a_foreign_layer_at_an_allowed_url_is_accepted(start_registry):
    reg = start_registry(extra_config={"validation": {"manifests": {"urls": {
        "allow": [r"^https://layers\.example\.com/"], "deny": [r"/private/"]}}}})
    repo = "urls/allowed"
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = push_blob(reg, repo, config)
    base = json.loads(image_manifest(config_digest, len(config), []))
    absent = digest_of(b"fetched from layers.example.com")

    def with_url(url: str) -> bytes:
        return json.dumps({**base, "layers": [{"mediaType": FOREIGN_LAYER, "digest": absent,
                                               "size": 31, "urls": [url]}]}).encode()

    body = with_url("https://layers.example.com/public/layer.tar.gz")
    r = put_manifest(reg, repo, "v1", body)
    assert r.status_code == 201, r.text
    assert requests.get(f"{reg.url}/v2/{repo}/manifests/v1",
                        headers={"Accept": OCI_MANIFEST}).content == body
    for url in ("https://layers.example.com/private/layer.tar.gz", "https://other.example/x"):
        r = put_manifest(reg, repo, "v2", with_url(url))
        assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"], (url, r.text)


def test_malformed_json_manifest_is_manifest_invalid(module_registry):
    reg, repo = module_registry, "bad/malformed"
    push_blob(reg, repo, b"seed so the repository exists")
    for body in (b'{"schemaVersion": 2, "mediaType": ', b"not json at all", b"[]"):
        with storage_unchanged(reg, repo):
            r = put_manifest(reg, repo, "v1", body)
            assert r.status_code == 400, (body, r.status_code, r.text)
            assert error_codes(r) == ["MANIFEST_INVALID"], body
    assert requests.get(f"{reg.url}/v2/{repo}/tags/list").json().get("tags") in (None, [])


def test_oversize_manifest_is_413(module_registry):
    reg, repo = module_registry, "bad/oversize"
    config = b"{}"
    config_digest = push_blob(reg, repo, config)
    body = image_manifest(config_digest, len(config), [],
                          annotations={"padding": "x" * (4 * 1024 * 1024)})
    assert len(body) > 4 * 1024 * 1024
    with storage_unchanged(reg, repo):
        r = put_manifest(reg, repo, "big", body)
        assert r.status_code == 413, (r.status_code, r.text[:300])
    assert requests.get(f"{reg.url}/v2/{repo}/manifests/big",
                        headers={"Accept": OCI_MANIFEST}).status_code == 404


# ------------------------------------------------------------------ credentials


@pytest.fixture
def auth_registry(start_registry, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=5)).decode()
    htpasswd.write_text(f"alice:{hashed}\n")
    return start_registry(htpasswd=htpasswd)


def assert_challenge(response) -> None:
    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Basic "), challenge
    assert 'realm="e2e-realm"' in challenge


@pytest.mark.parametrize("auth", [None, ("alice", "wrong"), ("mallory", "s3cret-pass")],
                         ids=["no-credentials", "wrong-password", "unknown-user"])
def test_wrong_credentials_get_401_with_basic_challenge(auth_registry, auth):
    reg, repo = auth_registry, "private/app"
    data = os.urandom(1024)
    with storage_unchanged(reg, repo):
        assert_challenge(requests.get(f"{reg.url}/v2/", auth=auth))
        assert_challenge(requests.post(f"{reg.url}/v2/{repo}/blobs/uploads/",
                                       params={"digest": digest_of(data)}, data=data, auth=auth))
        assert_challenge(requests.get(f"{reg.url}/v2/_catalog", auth=auth))
    good = ("alice", "s3cret-pass")
    assert requests.get(f"{reg.url}/v2/", auth=good).status_code == 200
    assert requests.head(f"{reg.url}/v2/{repo}/blobs/{digest_of(data)}",
                         auth=good).status_code == 404
    # The right password works end to end.
    r = requests.post(f"{reg.url}/v2/{repo}/blobs/uploads/", auth=good)
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    location = location if location.startswith("http") else reg.url + location
    r = requests.put(location, params={"digest": digest_of(data)}, data=data, auth=good)
    assert r.status_code == 201, r.text
    assert requests.get(f"{reg.url}/v2/{repo}/blobs/{digest_of(data)}",
                        auth=good).content == data


def test_claiming_an_existing_digest_needs_its_bytes(module_registry):
    """Wrong bytes under the digest of a blob the registry holds: refused, nothing linked."""
    reg = module_registry
    secret = os.urandom(4096)
    digest = push_blob(reg, "bad/owner", secret)
    with storage_unchanged(reg, "bad/claimer"):
        r = requests.put(start_upload(reg, "bad/claimer"), params={"digest": digest},
                         data=b"not the owner's bytes")
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
        r = requests.post(f"{reg.url}/v2/bad/claimer/blobs/uploads/", params={"digest": digest},
                          data=b"not the owner's bytes either")
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
    assert_no_blob(reg, "bad/claimer", digest)
    assert requests.get(f"{reg.url}/v2/bad/owner/blobs/{digest}").content == secret


def test_cancelled_upload_is_gone(module_registry):
    reg, repo = module_registry, "bad/cancelled"
    with storage_unchanged(reg, repo):
        location = start_upload(reg, repo)
        first = requests.patch(location, data=b"0123456789", headers={
            "Content-Range": "0-9", "Content-Type": "application/octet-stream"})
        assert first.status_code == 202
        location = first.headers["Location"]
        location = location if location.startswith("http") else reg.url + location
        assert requests.delete(location).status_code == 204
        for method in ("GET", "PATCH", "PUT"):
            r = requests.request(method, location, data=b"more",
                                 params={"digest": digest_of(b"0123456789more")})
            assert r.status_code == 404, (method, r.status_code)
            assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    assert_no_blob(reg, repo, digest_of(b"0123456789"), digest_of(b"0123456789more"))


def test_unsatisfiable_range_is_416(module_registry):
    reg, repo = module_registry, "bad/range"
    data = os.urandom(1000)
    digest = push_blob(reg, repo, data)
    part = requests.get(f"{reg.url}/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["Content-Range"] == "bytes 10-19/1000"
    r = requests.get(f"{reg.url}/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=1000-"})
    assert r.status_code == 416


def test_delete_disabled_is_405_unsupported(start_registry, skopeo, tmp_path):
    from tests.e2e.oci import write_image
    from tests.e2e.test_skopeo import copy

    reg = start_registry(delete_enabled=False)
    image = write_image(tmp_path / "src", "v1", [1000])
    copy(skopeo, f"oci:{tmp_path / 'src'}:v1", f"docker://{reg.host}/nodelete/app:v1")
    with storage_unchanged(reg, "nodelete/app"):
        failed = skopeo("delete", "--tls-verify=false", f"docker://{reg.host}/nodelete/app:v1",
                        check=False)
        assert failed.returncode != 0
        for path in (f"manifests/{image.manifest_digest}", f"blobs/{image.layer_digests[0]}"):
            r = requests.delete(f"{reg.url}/v2/nodelete/app/{path}")
            assert r.status_code == 405, (path, r.status_code)
            assert error_codes(r) == ["UNSUPPORTED"]
    assert requests.head(f"{reg.url}/v2/nodelete/app/manifests/v1",
                         headers={"Accept": OCI_MANIFEST}).status_code == 200


def test_manifest_put_by_wrong_digest_is_refused(module_registry):
    reg, repo = module_registry, "bad/manifest-digest"
    config_digest = push_blob(reg, repo, b"{}")
    body = image_manifest(config_digest, 2, [])
    wrong = digest_of(body + b" ")
    with storage_unchanged(reg, repo):
        r = put_manifest(reg, repo, wrong, body)
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
    for ref in (wrong, digest_of(body)):
        assert requests.head(f"{reg.url}/v2/{repo}/manifests/{ref}",
                             headers={"Accept": OCI_MANIFEST}).status_code == 404


def test_tag_with_a_trailing_newline_is_tag_invalid(module_registry):
    """``v2%0A`` arrives as the tag ``v2\\n``: refused, never listed."""
    reg, repo = module_registry, "bad/newline-tag"
    config_digest = push_blob(reg, repo, b"{}")
    body = image_manifest(config_digest, 2, [])
    with storage_unchanged(reg, repo):
        status, answer = raw_request(reg, "PUT", f"/v2/{repo}/manifests/v2%0A", body,
                                     {"Content-Type": OCI_MANIFEST})
        assert status == 400, answer[:300]
        assert error_codes(json.loads(answer)) == ["TAG_INVALID"]
    tags = requests.get(f"{reg.url}/v2/{repo}/tags/list")
    assert tags.status_code in (200, 404)
    assert "v2\n" not in (tags.json().get("tags") or [])


def test_deeply_nested_manifest_is_manifest_invalid(module_registry):
    """100,000 ``[``: deeper than the JSON parser recurses, a 400, never a 500."""
    reg, repo = module_registry, "bad/deep"
    push_blob(reg, repo, b"seed so the repository exists")
    with storage_unchanged(reg, repo):
        r = put_manifest(reg, repo, "v1", b"[" * 100_000)
        assert r.status_code == 400, (r.status_code, r.text[:300])
        assert error_codes(r) == ["MANIFEST_INVALID"]
