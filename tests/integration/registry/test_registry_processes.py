"""Real ``registry serve`` processes: two on one storage root finishing one upload, the
debug server, and uploads cut off by a client or a crash leaving no blob behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time

import pytest
import requests
import yaml

from tests.integration.registry.registry_api import sha256
from tests.integration.registry.registry_procs import ServeProcess


def _blob_files(root):
    for _dirpath, _, files in os.walk(root / "docker" / "registry" / "v2" / "blobs"):
        yield from files


def test_one_chunked_upload_across_two_processes(pair, tmp_path):
    a, b = pair
    data = os.urandom(2 * 1024 * 1024 + 123)
    half = 1024 * 1024
    r = requests.post(f"{a.url}/v2/shared/repo/blobs/uploads/")
    assert r.status_code == 202
    path = r.headers["Location"].split(f":{a.port}", 1)[1]
    r = requests.patch(f"{a.url}{path}", data=data[:half],
                       headers={"Content-Range": f"0-{half - 1}",
                                "Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.headers["Range"] == f"0-{half - 1}"
    # The other process sees the same offset and takes the rest.
    r = requests.get(f"{b.url}{path}")
    assert r.status_code == 204 and r.headers["Range"] == f"0-{half - 1}"
    r = requests.patch(f"{b.url}{path}", data=data[half:half + 1000],
                       headers={"Content-Range": f"{half}-{half + 999}"})
    assert r.status_code == 202
    # An out-of-order chunk on the first process is refused: it sees the second's progress.
    r = requests.patch(f"{a.url}{path}", data=b"x" * 10, headers={"Content-Range": f"{half}-{half + 9}"})
    assert r.status_code == 416 and r.headers["Range"] == f"0-{half + 999}"
    r = requests.put(f"{a.url}{path}", params={"digest": sha256(data)}, data=data[half + 1000:])
    assert r.status_code == 201, r.text
    for proc in (a, b):
        got = requests.get(f"{proc.url}/v2/shared/repo/blobs/{sha256(data)}")
        assert got.status_code == 200 and got.content == data
    # sendfile serves ranges too
    got = requests.get(f"{b.url}/v2/shared/repo/blobs/{sha256(data)}", headers={"Range": "bytes=5-9"})
    assert got.status_code == 206 and got.content == data[5:10]


def test_debug_server_health_and_metrics(pair):
    a, _ = pair
    requests.get(f"{a.url}/v2/")
    r = requests.get(f"http://127.0.0.1:{a.debug_port}/debug/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.get(f"http://127.0.0.1:{a.debug_port}/metrics")
    assert r.status_code == 200
    assert 'registry_http_requests_total{code="200",handler="base",method="GET"}' in r.text


def test_client_cut_off_mid_upload_leaves_no_blob(pair, tmp_path):
    a, _ = pair
    data = os.urandom(1024 * 1024)
    with socket.create_connection(("127.0.0.1", a.port)) as s:
        s.sendall((f"POST /v2/cut/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\n"
                   f"Host: 127.0.0.1\r\nContent-Length: {len(data)}\r\n\r\n").encode())
        s.sendall(data[: len(data) // 2])
    time.sleep(0.5)
    assert requests.head(f"{a.url}/v2/cut/blobs/{sha256(data)}").status_code == 404
    assert list(_blob_files(tmp_path / "root")) == []


def test_crash_mid_upload_leaves_no_blob(tmp_path):
    root = tmp_path / "root"
    proc = ServeProcess(root, tmp_path, "crash").start()
    data = os.urandom(1024 * 1024)
    try:
        with socket.create_connection(("127.0.0.1", proc.port)) as s:
            s.sendall((f"POST /v2/crash/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\n"
                       f"Host: 127.0.0.1\r\nContent-Length: {len(data)}\r\n\r\n").encode())
            s.sendall(data[: len(data) // 2])
            time.sleep(0.3)
            proc.kill(signal.SIGKILL)
    finally:
        proc.kill(signal.SIGKILL)
    assert list(_blob_files(root)) == []
    again = ServeProcess(root, tmp_path, "again").start()
    try:
        assert requests.head(f"{again.url}/v2/crash/blobs/{sha256(data)}").status_code == 404
        r = requests.post(f"{again.url}/v2/crash/blobs/uploads/", params={"digest": sha256(data)},
                          data=data)
        assert r.status_code == 201
    finally:
        again.kill()


def test_unusable_htpasswd_file_stops_start_up_with_the_key(tmp_path):
    import subprocess
    import sys

    import yaml

    from tests.integration.registry.registry_procs import REPO_ROOT, free_port

    config = tmp_path / "bad.yml"
    config.write_text(yaml.safe_dump({
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "root")}},
        "http": {"addr": f"127.0.0.1:{free_port()}"},
        "auth": {"htpasswd": {"realm": "r", "path": str(tmp_path / "missing")}},
    }))
    done = subprocess.run([sys.executable, "-m", "services.cli", "serve", str(config)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "auth.htpasswd.path" in done.stderr


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A registry writing its access log, with a static field on every line."""
    tmp_path = tmp_path_factory.mktemp("logged")
    proc = ServeProcess(tmp_path / "root", tmp_path, "logs")
    config = yaml.safe_load(proc.config_path.read_text())
    config["log"] = {"accesslog": {"disabled": False}, "fields": {"service": "registry"}}
    proc.config_path.write_text(yaml.safe_dump(config))
    proc.start()
    yield proc
    proc.kill()


def _access_lines(proc: ServeProcess, marker: str) -> list[str]:
    deadline = time.monotonic() + 5
    while marker not in proc.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    return [line for line in proc.log_path.read_text().splitlines() if "http request" in line]


def test_access_and_server_logs_are_key_value_lines(logged):
    requests.get(f"{logged.url}/v2/nope/NOPE/tags/list", headers={"User-Agent": "probe agent"},
                 timeout=5)
    lines = _access_lines(logged, "/v2/nope/NOPE/tags/list")
    assert any(
        " INFO http request method=GET path=/v2/nope/NOPE/tags/list status=400 " in line
        and 'useragent="probe agent"' in line and line.endswith("service=registry")
        for line in lines
    ), lines


def test_a_request_cannot_forge_access_log_lines(logged):
    """``%0A`` in a path, quotes and a NEL (``\\x85``, a line break to some readers) in a
    header: every value is escaped, so each request is one line with one ``status=``, and no
    line starts where the client says. (gunicorn itself refuses ASCII controls in headers.)"""
    forged = "2026-01-01T00:00:00.000Z INFO http request method=GET path=/forged status=200"
    path = "/v2/forge/" + forged.replace(" ", "%20") + "%0A" + forged.replace(" ", "%20")
    with socket.create_connection(("127.0.0.1", logged.port), timeout=10) as s:
        s.sendall((f"GET {path}/tags/list HTTP/1.1\r\nHost: x\r\n"
                   'User-Agent: agent" status=200 x="\x85\r\n'
                   "Connection: close\r\n\r\n").encode("latin-1"))
        while s.recv(65536):
            pass
    lines = _access_lines(logged, "/v2/forge/")
    text = logged.log_path.read_text()
    assert "\n2026-01-01T00:00:00.000Z" not in text and "\x85" not in text
    ours = [line for line in lines if "/v2/forge/" in line]
    assert len(ours) == 1, lines
    (line,) = ours
    fields = re.findall(r' (\w+)=("(?:[^"\\]|\\.)*"|[^ "]*)', line.split(" http request", 1)[1])
    assert [k for k, _ in fields] == ["method", "path", "status", "bytes", "duration_ms", "addr",
                                      "useragent", "service"], line
    values = {k: json.loads(v) if v.startswith('"') else v for k, v in fields}
    assert values["path"] == f"/v2/forge/{forged}\n{forged}/tags/list"
    assert values["useragent"] == 'agent" status=200 x="\x85'
    assert values["status"] == "404"
