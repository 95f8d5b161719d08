"""Slow clients against a real ``registry serve`` (and ``registry console``) of one worker with
two threads: a client
may take ``http.timeout.header`` for its request's head and leave a body idle at most
``http.timeout.body``, so half-sent requests cannot hold every thread, while an upload that
keeps moving, however slowly, is never cut off."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import requests
import yaml

from tests.conftest import free_port
from tests.integration.notifications.support import wait_until
from tests.integration.registry.registry_api import sha256
from tests.integration.registry.registry_procs import REPO_ROOT, ServeProcess

HEADER_SECONDS = 1.0
BODY_SECONDS = 2.0
THREADS = 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slow")
    proc = ServeProcess(tmp / "root", tmp, "slow", workers=1, threads=THREADS,
                        timeout={"header": f"{HEADER_SECONDS}s", "body": f"{BODY_SECONDS}s"})
    proc.start()
    yield proc
    proc.kill()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def closed_by_server(sock: socket.socket) -> bytes | None:
    """What the server sent before closing; None if it kept the connection open."""
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return None
    return got


@dataclass
class Listener:
    url: str
    port: int
    ready_path: str  # a page that answers 200 without credentials


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """``registry console`` alone (its registry need not run for /health), with the same
    ``http.timeout`` bounds and as few threads."""
    tmp = tmp_path_factory.mktemp("slow-console")
    port = free_port()
    config = tmp / "console.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "storage": {"filesystem": {"rootdirectory": str(tmp / "root")}},
        "http": {"addr": f"127.0.0.1:{free_port()}", "secret": "slow-clients-test-secret",
                 "timeout": {"header": f"{HEADER_SECONDS}s", "body": f"{BODY_SECONDS}s"}},
        "console": {"addr": f"127.0.0.1:{port}", "workers": 1, "threads": THREADS},
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with open(tmp / "console.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", "console", str(config)],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    listener = Listener(f"http://127.0.0.1:{port}", port, "/health")
    try:
        wait_until(lambda: _answers(listener.url + listener.ready_path), 30, "the console")
        yield listener
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(params=["registry", "console"])
def listener(request) -> Listener:
    if request.param == "console":
        return request.getfixturevalue("console")
    served = request.getfixturevalue("served")
    return Listener(served.url, served.port, "/v2/")


def test_half_sent_request_heads_do_not_starve_the_server(listener):
    stalled = []
    for _ in range(THREADS * 2):
        sock = connect(listener.port)
        sock.sendall(b"GET /v2/_cata")  # half a request line, then nothing
        stalled.append(sock)
    dripping = connect(listener.port)
    try:
        started = time.monotonic()
        with contextlib.suppress(OSError):  # a byte every 0.3 s: a total bound cuts it too
            for byte in b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
                dripping.sendall(bytes([byte]))
                time.sleep(0.3)
                if time.monotonic() - started > HEADER_SECONDS * 8:
                    break
        # Every slot was taken; each is freed within the header timeout of being taken up.
        r = requests.get(listener.url + listener.ready_path, timeout=HEADER_SECONDS * 10)
        assert r.status_code == 200
        for sock in (*stalled, dripping):
            sock.settimeout(HEADER_SECONDS * 5)
            assert closed_by_server(sock) is not None, "the server kept a half-sent request"
    finally:
        for sock in (*stalled, dripping):
            sock.close()


def _answer(sock: socket.socket) -> bytes:
    """One response to a GET /v2/ (its body is ``{}``), read off a kept-alive connection."""
    got = b""
    while not got.endswith(b"{}"):
        chunk = sock.recv(65536)
        assert chunk, got
        got += chunk
    return got


def test_idle_kept_alive_connections_hold_no_thread(served):
    """The thread that served a request waits briefly for the connection's next one
    (shared.keepalive); one that stays quiet goes back to the poller, so clients idling between
    requests on every thread's connection do not keep a new client waiting."""
    idle = [connect(served.port) for _ in range(THREADS)]
    try:
        for sock in idle:  # each has been served, and stays open
            sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(sock).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        r = requests.get(f"{served.url}/v2/", timeout=10, headers={"Connection": "close"})
        assert r.status_code == 200
        assert time.monotonic() - started < 1.0  # not the 5 s keepalive, not the head timeout
        for sock in idle:  # still usable: back to the poller, not closed
            sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(sock).startswith(b"HTTP/1.1 200")
    finally:
        for sock in idle:
            sock.close()


def test_a_kept_alive_connections_next_head_has_its_deadline_too(served):
    """Requests back to back on one connection are served, and a next head sent in part is cut
    off after http.timeout.header as a first one is."""
    with connect(served.port) as sock:
        for _ in range(3):
            sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHo")
        started = time.monotonic()
        sock.settimeout(HEADER_SECONDS * 5)
        assert closed_by_server(sock) is not None, "the server kept a half-sent request"
        assert time.monotonic() - started < HEADER_SECONDS * 3


def test_a_stalled_body_is_answered_408_and_keeps_nothing(served):
    r = requests.post(f"{served.url}/v2/slow/stalled/blobs/uploads/")
    assert r.status_code == 202
    path = r.headers["Location"].split(f":{served.port}", 1)[1]
    with connect(served.port) as sock:
        sock.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                      "Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * 100)
        started = time.monotonic()
        sock.settimeout(BODY_SECONDS * 5)
        answer = closed_by_server(sock)
        waited = time.monotonic() - started
    assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
    assert BODY_SECONDS * 0.9 <= waited < BODY_SECONDS * 4
    status = requests.get(f"{served.url}{path}")
    assert status.status_code == 204 and status.headers["Range"] == "0-0"


def test_a_slow_upload_that_keeps_moving_is_not_cut_off(served):
    """A blob sent in pieces well under the body timeout apart, for longer than both
    timeouts together, over a connection whose head also came in slowly."""
    data = os.urandom(32 * 1024)
    pieces = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    pause = BODY_SECONDS / 4
    assert len(pieces) * pause > HEADER_SECONDS + BODY_SECONDS
    with connect(served.port) as sock:
        head = (f"POST /v2/slow/moving/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\n"
                f"Host: x\r\nContent-Length: {len(data)}\r\n"
                "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n").encode()
        sock.sendall(head[:10])
        time.sleep(HEADER_SECONDS / 2)
        sock.sendall(head[10:])
        for piece in pieces:
            time.sleep(pause)
            sock.sendall(piece)
        answer = closed_by_server(sock)
    assert answer is not None and answer.startswith(b"HTTP/1.1 201"), answer
    got = requests.get(f"{served.url}/v2/slow/moving/blobs/{sha256(data)}")
    assert got.status_code == 200 and got.content == data
