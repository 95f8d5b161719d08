"""Requests racing on one upload session, from two ``registry serve`` processes sharing one
storage root: a request that changes a session holds it, so whatever a client sends at once,
the blob stored under a digest is always the bytes of that digest."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.integration.registry.registry_api import sha256
from tests.integration.registry.registry_procs import ServeProcess


def start_upload(proc: ServeProcess, repo: str) -> str:
    r = requests.post(f"{proc.url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    return r.headers["Location"].split(f":{proc.port}", 1)[1]


class StalledPatch:
    """A PATCH whose headers and first bytes are sent, the rest held back until :meth:`finish`."""

    def __init__(self, proc: ServeProcess, path: str, body: bytes, sent: int = 10):
        self.body = body
        self.sent = sent
        self.sock = socket.create_connection(("127.0.0.1", proc.port))
        self.sock.sendall((f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           f"Content-Type: application/octet-stream\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:sent])
        time.sleep(0.3)  # the server has taken the request and is reading its body

    def finish(self) -> int:
        self.sock.sendall(self.body[self.sent:])
        self.sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(65536)
        self.sock.close()
        return int(answer.split(b" ", 2)[1])


def blob(proc: ServeProcess, repo: str, digest: str) -> bytes | None:
    r = requests.get(f"{proc.url}/v2/{repo}/blobs/{digest}")
    return r.content if r.status_code == 200 else None


def test_finishing_while_a_chunk_arrives_is_refused_and_the_chunk_is_not_lost(pair):
    a, b = pair
    path = start_upload(a, "race/finish")
    first, second = os.urandom(10000), os.urandom(4000)
    assert requests.patch(f"{a.url}{path}", data=first).status_code == 202
    chunk = StalledPatch(a, path, second)
    # Finishing now (on the other process) would move the file the chunk is being written to.
    r = requests.put(f"{b.url}{path}", params={"digest": sha256(first)})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
    assert blob(a, "race/finish", sha256(first)) is None
    assert chunk.finish() == 202
    r = requests.put(f"{b.url}{path}", params={"digest": sha256(first + second)})
    assert r.status_code == 201, r.text
    assert blob(b, "race/finish", sha256(first + second)) == first + second


def test_a_second_chunk_at_the_same_offset_is_refused_while_the_first_arrives(pair):
    a, b = pair
    path = start_upload(a, "race/chunks")
    mine, other = os.urandom(300_000), os.urandom(300_000)
    chunk = StalledPatch(a, path, mine)
    r = requests.patch(f"{b.url}{path}", data=other,
                       headers={"Content-Range": f"0-{len(other) - 1}"})
    assert r.status_code == 409, r.text
    assert chunk.finish() == 202
    # Now the session is at the first chunk's end: the other one no longer fits.
    r = requests.patch(f"{b.url}{path}", data=other,
                       headers={"Content-Range": f"0-{len(other) - 1}"})
    assert r.status_code == 416
    r = requests.put(f"{b.url}{path}", params={"digest": sha256(mine)})
    assert r.status_code == 201, r.text
    assert blob(a, "race/chunks", sha256(mine)) == mine


def finish(proc: ServeProcess, path: str, digest: str) -> int:
    return requests.put(f"{proc.url}{path}", params={"digest": digest}).status_code


def test_finishes_racing_on_one_upload_store_the_right_bytes(pair):
    a, b = pair
    outcomes: list[int] = []
    for i in range(12):
        repo = f"race/many{i}"
        data = os.urandom(200_000 + i)
        path = start_upload(a, repo)
        assert requests.patch(f"{a.url}{path}", data=data).status_code == 202
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(finish, [a, b, a, b], [path] * 4, [sha256(data)] * 4))
        assert codes.count(201) >= 1, codes
        # The others found the session held (409) or already finished (404): never a 500.
        assert set(codes) <= {201, 404, 409}, codes
        outcomes.extend(codes)
        for proc in (a, b):
            assert blob(proc, repo, sha256(data)) == data
    assert 409 in outcomes or 404 in outcomes  # the requests did overlap


def test_cancelling_while_a_chunk_arrives_is_refused(pair):
    a, b = pair
    path = start_upload(a, "race/cancel")
    chunk = StalledPatch(a, path, os.urandom(5000))
    assert requests.delete(f"{b.url}{path}").status_code == 409
    assert chunk.finish() == 202
    assert requests.delete(f"{b.url}{path}").status_code == 204
    assert requests.get(f"{a.url}{path}").status_code == 404
