"""Helm (the Go SDK through helm-python-sdk) pushes a chart to the registry and pulls it back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import require_module

pytestmark = pytest.mark.e2e

helm = require_module("helm_python")

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def make_chart(where: Path, name: str, version: str) -> Path:
    chart = where / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: e2e chart\n"
        "type: application\n"
    )
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    return chart


def test_helm_push_and_pull_chart(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no stray credentials
    chart_dir = make_chart(tmp_path / "src", "tiny", "0.1.0")
    tgz = Path(helm.package(chart_dir, destination=tmp_path / "dist"))
    packaged = tgz.read_bytes()

    helm.push(tgz, f"oci://{registry.host}/charts", plain_http=True)

    # The registry holds an OCI manifest with Helm's media types, the chart bytes as the layer.
    r = requests.get(f"{registry.url}/v2/charts/tiny/manifests/0.1.0",
                     headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["config"]["mediaType"] == HELM_CONFIG
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == HELM_LAYER
    assert layer["digest"] == "sha256:" + hashlib.sha256(packaged).hexdigest()
    with helm.RegistryClient(plain_http=True) as client:
        resolved = client.resolve(f"oci://{registry.host}/charts/tiny:0.1.0")
        assert resolved["digest"] == r.headers["Docker-Content-Digest"]
        assert client.tags(f"oci://{registry.host}/charts/tiny") == ["0.1.0"]
    tags = requests.get(f"{registry.url}/v2/charts/tiny/tags/list").json()
    assert tags == {"name": "charts/tiny", "tags": ["0.1.0"]}

    out = tmp_path / "pulled"
    out.mkdir()
    helm.pull(f"oci://{registry.host}/charts/tiny", version="0.1.0", destination=out,
              plain_http=True)
    pulled = out / "tiny-0.1.0.tgz"
    assert pulled.read_bytes() == packaged

    rendered = helm.Chart.load(pulled).render({"greeting": "hi"}, name="e2e",
                                              namespace="default")
    assert any('greeting: "hi"' in text for text in rendered.values()), rendered
