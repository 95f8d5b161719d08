"""Helpers for the registry API tests: a Falcon test client on the real app, filesystem
storage in a temporary folder, and a recording event sink."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from falcon import testing

from services.registry.http import create_app
from shared.config import Config, parse_config
from shared.events import RecordingSink

HOST = "registry.test:5000"
BASE = f"http://{HOST}"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_config(root: str, **storage: object) -> Config:
    raw: dict = {"storage": {"filesystem": {"rootdirectory": root}, **storage},
                 "http": {"addr": ":5000"}}
    return parse_config(raw)


class Api:
    """A test client plus the few steps most tests repeat."""

    def __init__(self, client: testing.TestClient, sink: RecordingSink, root: str):
        self.client = client
        self.sink = sink
        self.root = root

    def __getattr__(self, name: str) -> Callable:
        return getattr(self.client, name)

    @property
    def events(self) -> list[dict]:
        return [e.to_dict() for e in self.sink.events]

    def clear(self) -> None:
        self.sink.events.clear()

    def push_blob(self, repo: str, data: bytes) -> str:
        dg = sha256(data)
        r = self.client.simulate_post(f"/v2/{repo}/blobs/uploads/", params={"digest": dg},
                                      body=data)
        assert r.status_code == 201, r.text
        return dg

    def push_image(self, repo: str, tag: str, layers: tuple[bytes, ...] = (b"layer-1",),
                   config: bytes = b'{"architecture":"amd64","os":"linux"}',
                   extra: dict | None = None) -> tuple[str, bytes]:
        for blob in (config, *layers):
            self.push_blob(repo, blob)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
               "layers": [{"mediaType": OCI_LAYER, "digest": sha256(x), "size": len(x)}
                          for x in layers]}
        doc.update(extra or {})
        body = json.dumps(doc).encode()
        r = self.client.simulate_put(f"/v2/{repo}/manifests/{tag}", body=body,
                                     headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
        return sha256(body), body


def build_api(tmp_path, sink: RecordingSink | None = None, **storage: object) -> Api:
    root = str(tmp_path / "root")
    sink = sink or RecordingSink()
    config = make_config(root, **storage)
    client = testing.TestClient(create_app(config, sink=sink),
                                headers={"Host": HOST, "User-Agent": "test-client/1.0"})
    return Api(client, sink, root)


def error_code(result) -> str:
    body = result.json
    assert set(body) == {"errors"}, body
    return body["errors"][0]["code"]
