"""Slow clients against a real ``registry serve`` of one worker with two threads: a client
may take ``http.timeout.header`` for its request's head and leave a body idle at most
``http.timeout.body``, so half-sent requests cannot hold every thread, while an upload that
keeps moving, however slowly, is never cut off."""

from __future__ import annotations

import contextlib
import os
import socket
import time

import pytest
import requests

from tests.integration.registry.registry_api import sha256
from tests.integration.registry.registry_procs import ServeProcess

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


def connect(proc: ServeProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proc.port), timeout=30)


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


def test_half_sent_request_heads_do_not_starve_the_api(served):
    stalled = []
    for _ in range(THREADS * 2):
        sock = connect(served)
        sock.sendall(b"GET /v2/_cata")  # half a request line, then nothing
        stalled.append(sock)
    dripping = connect(served)
    try:
        started = time.monotonic()
        with contextlib.suppress(OSError):  # a byte every 0.3 s: a total bound cuts it too
            for byte in b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
                dripping.sendall(bytes([byte]))
                time.sleep(0.3)
                if time.monotonic() - started > HEADER_SECONDS * 8:
                    break
        # Every slot was taken; each is freed within the header timeout of being taken up.
        r = requests.get(f"{served.url}/v2/", timeout=HEADER_SECONDS * 10)
        assert r.status_code == 200
        for sock in (*stalled, dripping):
            sock.settimeout(HEADER_SECONDS * 5)
            assert closed_by_server(sock) is not None, "the server kept a half-sent request"
    finally:
        for sock in (*stalled, dripping):
            sock.close()


def test_a_stalled_body_is_answered_408_and_keeps_nothing(served):
    r = requests.post(f"{served.url}/v2/slow/stalled/blobs/uploads/")
    assert r.status_code == 202
    path = r.headers["Location"].split(f":{served.port}", 1)[1]
    with connect(served) as sock:
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
    with connect(served) as sock:
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
