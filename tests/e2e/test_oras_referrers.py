"""Artifacts with oras-py, and the referrers API (OCI Distribution 1.1) over plain HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.conftest import require_module
from tests.e2e.oci import OCI_INDEX, OCI_MANIFEST, sha256

pytestmark = pytest.mark.e2e

oras_client = require_module("oras.client")
oras_oci = require_module("oras.oci")

OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SBOM_CONFIG = "application/vnd.example.sbom.config.v1+json"
SIGNATURE = "application/vnd.example.signature.v1"
REPO = "artifacts/demo"


def put_blob(url: str, repo: str, data: bytes) -> str:
    """Monolithic upload: POST ?digest= with the body."""
    digest = sha256(data)
    r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return digest


def get_manifest(url: str, repo: str, ref: str) -> requests.Response:
    r = requests.get(f"{url}/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text
    return r


def referrers(url: str, repo: str, digest: str, **params) -> requests.Response:
    r = requests.get(f"{url}/v2/{repo}/referrers/{digest}", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == OCI_INDEX
    body = r.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    return r


@pytest.fixture
def oras(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # oras-py wants files under the working directory
    monkeypatch.setenv("HOME", str(tmp_path))
    return oras_client.OrasClient(hostname=registry.host, insecure=True)


def test_artifact_with_subject_found_through_referrers(registry, oras, tmp_path):
    # 1. The subject: a plain artifact pushed by oras-py.
    (tmp_path / "readme.txt").write_text("the subject artifact\n")
    pushed = oras.push(target=f"{registry.host}/{REPO}:base", files=["readme.txt:text/plain"])
    assert pushed.status_code == 201
    base = get_manifest(registry.url, REPO, "base")
    base_digest = base.headers["Docker-Content-Digest"]
    assert base_digest == sha256(base.content)
    assert pushed.headers.get("Docker-Content-Digest") == base_digest

    # 2. An SBOM referring to it, pushed by oras-py with `subject` (artifactType: config's type).
    (tmp_path / "sbom.json").write_text(json.dumps({"spdxVersion": "SPDX-2.3"}))
    (tmp_path / "sbom-config.json").write_text("{}")
    subject = oras_oci.Subject(mediaType=OCI_MANIFEST, digest=base_digest, size=len(base.content))
    sbom_push = oras.push(
        target=f"{registry.host}/{REPO}:sbom",
        files=["sbom.json:application/spdx+json"],
        manifest_config=f"sbom-config.json:{SBOM_CONFIG}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=subject,
    )
    assert sbom_push.status_code == 201
    assert sbom_push.headers.get("OCI-Subject") == base_digest
    sbom = get_manifest(registry.url, REPO, "sbom")
    sbom_digest = sbom.headers["Docker-Content-Digest"]

    # 3. A signature referring to it with a manifest-level artifactType, pushed by digest only.
    empty = put_blob(registry.url, REPO, b"{}")
    sig_layer = put_blob(registry.url, REPO, b"signature bytes")
    signature = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE,
        "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sig_layer,
                    "size": len(b"signature bytes")}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": base_digest, "size": len(base.content)},
        "annotations": {"org.example.kind": "signature"},
    }).encode()
    sig_digest = sha256(signature)
    r = requests.put(f"{registry.url}/v2/{REPO}/manifests/{sig_digest}", data=signature,
                     headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    assert r.headers.get("OCI-Subject") == base_digest

    # 4. Both are listed, with artifactType, size and annotations.
    listed = referrers(registry.url, REPO, base_digest)
    assert "OCI-Filters-Applied" not in listed.headers
    by_digest = {m["digest"]: m for m in listed.json()["manifests"]}
    assert set(by_digest) == {sbom_digest, sig_digest}
    assert by_digest[sbom_digest]["artifactType"] == SBOM_CONFIG
    assert by_digest[sbom_digest]["size"] == len(sbom.content)
    assert by_digest[sbom_digest]["mediaType"] == OCI_MANIFEST
    assert by_digest[sbom_digest]["annotations"]["org.example.kind"] == "sbom"
    assert by_digest[sig_digest]["artifactType"] == SIGNATURE
    assert by_digest[sig_digest]["size"] == len(signature)
    assert by_digest[sig_digest]["annotations"] == {"org.example.kind": "signature"}

    # 5. Filtering by artifactType, announced by OCI-Filters-Applied.
    for artifact_type, expected in ((SIGNATURE, sig_digest), (SBOM_CONFIG, sbom_digest)):
        filtered = referrers(registry.url, REPO, base_digest, artifactType=artifact_type)
        assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"
        assert [m["digest"] for m in filtered.json()["manifests"]] == [expected]
    none = referrers(registry.url, REPO, base_digest, artifactType="application/x-nothing")
    assert none.json()["manifests"] == []

    # 6. The referrers themselves have no referrers; an unknown digest is an empty list too.
    assert referrers(registry.url, REPO, sig_digest).json()["manifests"] == []
    assert referrers(registry.url, REPO, sha256(b"nothing")).json()["manifests"] == []

    # 7. oras-py pulls the SBOM back intact.
    out = tmp_path / "pulled"
    files = oras.pull(target=f"{registry.host}/{REPO}:sbom", outdir=str(out))
    assert [p.split("/")[-1] for p in files] == ["sbom.json"]
    assert (out / "sbom.json").read_bytes() == (tmp_path / "sbom.json").read_bytes()

    # 8. Deleting a referrer removes it from the list.
    d = requests.delete(f"{registry.url}/v2/{REPO}/manifests/{sig_digest}")
    assert d.status_code == 202, d.text
    left = referrers(registry.url, REPO, base_digest).json()["manifests"]
    assert [m["digest"] for m in left] == [sbom_digest]
