"""The debug listeners of ``registry serve`` (in gunicorn's master) and ``registry notifier``:
clients that connect and send half a request cannot pile up threads or hold a connection
longer than the listener allows, and scrapes are answered again once they are cut off."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import requests

from shared.config import parse_config
from shared.debug_http import BoundedThreadingMixIn
from tests.conftest import free_port

LIMIT_SECONDS = 0.5


@pytest.fixture(params=["registry", "notifier"])
def listener(request, monkeypatch):
    """(port, server) of a debug listener with a short per-connection limit."""
    monkeypatch.setattr(BoundedThreadingMixIn, "connection_seconds", LIMIT_SECONDS)
    port = free_port()
    if request.param == "registry":
        from services.registry.server import start_debug_server

        config = parse_config({"storage": {"inmemory": {}}, "http": {
            "debug": {"addr": f"127.0.0.1:{port}", "prometheus": {"enabled": True}}}})
        server = start_debug_server(config)
    else:
        from services.notifier.debugserver import start_debug_server

        server = start_debug_server(f"127.0.0.1:{port}", lambda: {"healthy": True})
    yield port, server
    server.shutdown()
    server.server_close()


def half_request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /debug/he")  # and nothing more
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_stalled_client_is_cut_off(listener):
    port, _ = listener
    started = time.monotonic()
    with half_request(port) as sock:
        sock.settimeout(LIMIT_SECONDS * 5)
        assert closed_by_server(sock)
    assert time.monotonic() - started < LIMIT_SECONDS * 4


def test_a_client_dripping_bytes_is_cut_off_too(listener):
    port, _ = listener
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):
            for byte in b"GET /debug/health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(LIMIT_SECONDS / 5)
                if time.monotonic() - started > LIMIT_SECONDS * 5:
                    break
        sock.settimeout(LIMIT_SECONDS * 2)
        assert closed_by_server(sock)
    assert time.monotonic() - started < LIMIT_SECONDS * 5


def test_stalled_clients_take_a_bounded_number_of_threads(listener):
    port, server = listener
    before = threading.active_count()
    stalled = [half_request(port) for _ in range(server.max_connections + 4)]
    try:
        time.sleep(0.3)
        # A thread per connection served, plus the deadline watcher; the rest wait unaccepted.
        grown = threading.active_count() - before
        assert grown <= server.max_connections + 1, grown
        # Every stalled client is cut off in turn, and a scrape is answered after them.
        r = requests.get(f"http://127.0.0.1:{port}/debug/health", timeout=LIMIT_SECONDS * 10)
        assert r.status_code == 200
    finally:
        for sock in stalled:
            sock.close()
