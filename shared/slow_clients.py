"""Bounds on slow clients (``http.timeout``), so a few connections that send half a request
and stop cannot take every one of gunicorn's ``workers x threads`` slots.

- The request line and headers: from when a worker thread takes the connection up, the
  client has ``http.timeout.header`` to send them whole; then the connection is shut down.
  A total, not a per-read timeout: a client dripping a byte a second is cut all the same.
- The body: each read may wait ``http.timeout.body`` for the client's next bytes (a socket
  timeout while the app runs), so an upload that keeps moving, however slowly, goes on, and
  one that stops is answered 408 (:func:`services.registry.http.requests.body_chunks`).

gunicorn's gthread worker has no such bounds: it waits up to 5 s for a new connection's first
bytes, then reads what follows with no limit.

The same worker class serves a kept-alive connection's next request on the thread that served
the last one when it comes at once, and lets a less busy worker accept a new connection first
(:mod:`shared.keepalive`); each of those heads has its deadline too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from shared.config import HttpTimeoutConfig
from shared.keepalive import QueuedConnections, accept_delay, next_request_ready
from shared.socket_deadlines import SocketDeadlines

WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


def worker_class(timeouts: HttpTimeoutConfig) -> type[ThreadWorker]:
    """gunicorn's gthread worker, with ``timeouts.header`` on each request's head."""

    class BoundedThreadWorker(ThreadWorker):
        head_deadlines: SocketDeadlines
        queued: QueuedConnections

        def init_process(self) -> None:
            # In the worker, after the fork: the watcher thread is this process's.
            self.head_deadlines = SocketDeadlines("request head")
            self.queued = QueuedConnections()
            super().init_process()

        def accept(self, listener: Any) -> None:
            # A less busy worker first (shared.keepalive.accept_delay).
            delay = accept_delay(self.nr_conns, self.cfg.workers)
            if delay:
                time.sleep(delay)
            super().accept(listener)

        def enqueue_req(self, conn: Any) -> None:
            self.queued.add()
            super().enqueue_req(conn)

        def handle(self, conn: Any) -> Any:
            self.queued.taken()
            while True:
                # Each request's head has its deadline, from when this thread waits for it.
                self.head_deadlines.watch(conn, lambda: conn.sock, timeouts.header)
                try:
                    result = super().handle(conn)
                finally:
                    self.head_deadlines.release(conn)
                # A kept-alive connection's next request is served here when it comes at once
                # (shared.keepalive); otherwise it goes back to gunicorn's poller.
                if not (result is True and self.alive and not conn.is_http2
                        and self.queued.none() and next_request_ready(conn)):
                    return result

        def handle_request(self, req: Any, conn: Any) -> Any:
            self.head_deadlines.release(conn)  # the head is in: the rest is the app's time
            return super().handle_request(req, conn)

    return BoundedThreadWorker


def bounded_body_reads(app: WSGIApp, seconds: float) -> WSGIApp:
    """``app`` with each read of the request body waiting at most ``seconds`` for the client.
    The response is written after the app returns, in blocking mode again: a client reading a
    large blob slowly is not cut off."""

    def wrapped(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is None:
            return app(environ, start_response)
        sock.settimeout(seconds)
        try:
            return app(environ, start_response)
        finally:
            sock.settimeout(None)

    return wrapped
