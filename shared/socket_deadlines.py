"""Deadlines on client connections: a socket still registered when its deadline passes is shut
down, which wakes the thread blocked reading (or writing) it, whatever the client does.

A per-operation socket timeout would not do: a client sending one byte just before each
timeout keeps its thread forever. One watcher thread per process checks every registered
socket a few times a second; registering and releasing are a dictionary update.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Hashable

from shared.logfmt import kv

log = logging.getLogger(__name__)

Target = socket.socket | Callable[[], socket.socket]


class SocketDeadlines:
    def __init__(self, what: str, interval: float = 0.25):
        self.what = what  # for the log line: "debug request", "request head"
        self.interval = interval
        self._lock = threading.Lock()
        self._due: dict[Hashable, tuple[float, Target, float]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, key: Hashable, sock: Target, seconds: float) -> None:
        """Shut ``sock`` down ``seconds`` from now unless ``key`` is released first. ``sock``
        may be a function returning the socket then: a connection that turns into a TLS one
        meanwhile has another socket object."""
        with self._lock:
            self._due[key] = (time.monotonic() + seconds, sock, seconds)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"deadlines-{self.what.replace(' ', '-')}")
                self._thread.start()

    def release(self, key: Hashable) -> None:
        with self._lock:
            self._due.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._due)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            now = time.monotonic()
            # Under the lock: a connection released meanwhile (its request arrived whole at
            # the last moment) is never shut down after its owner moved on.
            with self._lock:
                for key, (deadline, sock, seconds) in list(self._due.items()):
                    if deadline <= now:
                        del self._due[key]
                        self._shut(sock, seconds)

    def _shut(self, target: Target, seconds: float) -> None:
        sock = target if isinstance(target, socket.socket) else target()
        try:
            peer = sock.getpeername()
        except OSError:
            peer = None
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return  # already closed by its owner
        log.info(kv("slow client disconnected", waited_for=self.what, seconds=seconds,
                    addr=peer[0] if isinstance(peer, tuple) else peer))
