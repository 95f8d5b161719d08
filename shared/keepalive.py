"""Serving a kept-alive connection's next request on the thread that served the last one.

gunicorn's gthread worker hands every kept-alive connection back to its main thread after each
response: a pipe write to wake it, an epoll registration, the poll, an unregistration and a
hand-off to a pool thread, each step a switch of the GIL between threads. For a client that
sends its next request at once (a pusher's manifests, a puller's blobs) that round trip cost
about as much CPU as a manifest GET's own work (measured on 2026-12-07 with wrk, 8 connections:
manifest GETs 2400 -> 3450 req/s, PUTs 490 -> 690).

The thread waits up to ``LINGER`` for the next request and serves it itself; a connection that
stays quiet longer goes back to the poller as before, so an idle client still holds no thread.
It waits only while no other connection is queued for a thread, so a busy worker shares its
threads as gunicorn does.
"""

from __future__ import annotations

import select
import threading
from typing import Any

# About the time a client's next request takes to arrive on a fast network. Waiting holds a
# thread, not a core.
LINGER = 0.002


class QueuedConnections:
    """How many connections wait for a pool thread (submitted, not yet taken up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    def taken(self) -> None:
        with self._lock:
            self._count -= 1

    def none(self) -> bool:
        return self._count <= 0


def next_request_ready(conn: Any, linger: float = LINGER) -> bool:
    """True when gunicorn's connection ``conn`` has its next request's bytes (buffered by its
    parser or by TLS, or on the socket within ``linger`` seconds), or the client closed."""
    if conn.parser.unreader.buf.getvalue():
        return True
    pending = getattr(conn.sock, "pending", None)  # TLS: bytes decrypted but not yet read
    if pending is not None and pending():
        return True
    poller = select.poll()
    try:
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(linger * 1000))
    except (OSError, ValueError):  # closed meanwhile
        return False


# Spreading new connections over the workers. Every gunicorn worker waits on the same listening
# socket and the first to call accept gets the connection, so eight connections opened at once
# (wrk; a CI job pushing layers in parallel) split 4/4 or 6/2 at random, and a worker holding six
# is bound by its one interpreter lock while the other idles (manifest GETs at 8 connections moved
# by +-15% from run to run with the split, 2026-12-07). A worker already holding connections waits
# a moment before accepting, longer the more it holds, so that one holding fewer takes it first;
# the one that loses the race finds nothing to accept, which gunicorn ignores.
ACCEPT_STEP = 0.0002  # seconds per connection held
ACCEPT_MOST = 0.001


def accept_delay(held: int, workers: int) -> float:
    """How long a worker holding ``held`` connections waits before accepting another."""
    if workers < 2 or held <= 0:
        return 0.0
    return min(ACCEPT_STEP * held, ACCEPT_MOST)

