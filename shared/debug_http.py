"""The debug listeners' server (``/metrics``, ``/debug/*`` of ``registry serve`` and of
``registry notifier``): a thread per connection, as socketserver's ThreadingMixIn, but at
most ``max_connections`` of them, and each connection closed after ``connection_seconds``
whatever the client does. The registry's runs in gunicorn's master: a client that connects
and sends nothing must not pile up threads there."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from shared.socket_deadlines import SocketDeadlines

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 8
# A scrape or a probe answers in milliseconds; Prometheus' own scrape timeout is 10 s.
CONNECTION_SECONDS = 10.0


class BoundedThreadingMixIn:
    max_connections = MAX_CONNECTIONS
    connection_seconds = CONNECTION_SECONDS
    daemon_threads = True

    def _bounds(self) -> tuple[threading.BoundedSemaphore, SocketDeadlines]:
        bounds = getattr(self, "_bounded", None)
        if bounds is None:
            bounds = (threading.BoundedSemaphore(self.max_connections),
                      SocketDeadlines("debug request"))
            self._bounded = bounds
        return bounds

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        slots, deadlines = self._bounds()
        # With every slot taken, the next connection waits in the listen backlog: at most
        # connection_seconds, since each slot is freed by then.
        slots.acquire()
        deadlines.watch(request, request, self.connection_seconds)
        threading.Thread(target=self._serve_one, args=(request, client_address),
                         daemon=True).start()

    def _serve_one(self, request: socket.socket, client_address: Any) -> None:
        slots, deadlines = self._bounds()
        try:
            self.finish_request(request, client_address)  # type: ignore[attr-defined]
        except Exception:
            self.handle_error(request, client_address)
        finally:
            deadlines.release(request)
            self.shutdown_request(request)  # type: ignore[attr-defined]
            slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away or was cut off: nothing for stderr's traceback.
        log.debug("debug listener connection failed", exc_info=True)
