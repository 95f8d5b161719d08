"""Blob bodies go out with sendfile under gunicorn: a full or ranged GET must leave the
keep-alive connection usable for the next request (clients pull many blobs over one)."""

from __future__ import annotations

import hashlib
import http.client

import pytest

from tests.integration.registry.registry_procs import ServeProcess


@pytest.fixture
def server(tmp_path):
    proc = ServeProcess(tmp_path / "root", tmp_path, "keepalive").start()
    yield proc
    proc.kill()


def test_full_and_ranged_blob_gets_keep_the_connection_usable(server):
    blob = bytes(range(256)) * 64
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def call(method: str, path: str, body: bytes | None = None, **headers: str):
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response, response.read()

    response, _ = call("POST", f"/v2/ka/app/blobs/uploads/?digest={digest}", blob,
                       **{"Content-Type": "application/octet-stream"})
    assert response.status == 201
    sock = conn.sock
    for range_header, status, expected in [
        (None, 200, blob),
        ("bytes=0-3", 206, blob[:4]),
        ("bytes=100-", 206, blob[100:]),
        ("bytes=-10", 206, blob[-10:]),
    ]:
        headers = {"Range": range_header} if range_header else {}
        response, body = call("GET", f"/v2/ka/app/blobs/{digest}", **headers)
        assert (response.status, body) == (status, expected)
        response, body = call("GET", "/v2/")
        assert response.status == 200
        assert conn.sock is sock, "the server closed the keep-alive connection"
    conn.close()
