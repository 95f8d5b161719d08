"""The notifier's writer: settled deliveries reach the database in batches, off the delivery
path.

:meth:`HistoryWriter.record` only appends to a bounded in-memory queue; one thread writes what
has gathered, a batch per transaction. A slow or unreachable database never slows a delivery: the
queue absorbs it while the thread retries, and when the queue is full new records are dropped,
counted (``registry_notifications_history_dropped_total``) and said once in the log
(``WARNING delivery history falling behind, records dropped``); when the database answers again
the thread catches up and logs ``delivery history writing again dropped=N``. The same thread
stamps the notifier as seen (every :data:`HEARTBEAT_INTERVAL`) and prunes old rows (every
:data:`PRUNE_INTERVAL`).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from shared.config import EndpointConfig
from shared.history.engine import HistoryUnavailable
from shared.history.metrics import HISTORY_BACKLOG, HISTORY_DROPPED, HISTORY_WRITTEN
from shared.history.records import Settled
from shared.history.retention import prune
from shared.history.store import HistoryStore
from shared.history.writes import heartbeat, write_batch
from shared.logfmt import kv

log = logging.getLogger("notifier.history")

QUEUE_SIZE = 50_000  # records held while the database is slow: ~1 minute of a busy notifier
BATCH = 2000
BATCH_WAIT = 0.2  # seconds a partial batch waits for more before it is written
RETRY_WAIT_MAX = 5.0
HEARTBEAT_INTERVAL = 10.0
PRUNE_INTERVAL = 60.0
KNOWN_EVENTS = 100_000  # event ids remembered as written (their rows are not sent again)


def notifier_id() -> str:
    """Which notifier made an attempt: host (the pod's name on Kubernetes) and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _KnownEvents(OrderedDict):
    """The ids of events already written, the oldest forgotten first."""

    def update(self, ids) -> None:  # type: ignore[override]
        for event_id in ids:
            self[event_id] = None
        while len(self) > KNOWN_EVENTS:
            self.popitem(last=False)


class HistoryWriter:
    def __init__(self, store: HistoryStore, endpoints: Sequence[EndpointConfig],
                 retention: float, notifier: str | None = None, queue_size: int = QUEUE_SIZE):
        self.store = store
        self.endpoints = [e for e in endpoints if not e.disabled]
        self.retention = retention
        self.notifier = notifier or notifier_id()
        self.started = time.time()
        self.queue: queue.Queue[Settled] = queue.Queue(queue_size)
        self.known = _KnownEvents()
        self.dropped = 0  # since the last time the history was written
        self.failing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._next_heartbeat = 0.0
        self._next_prune = time.monotonic() + 5.0

    def start(self) -> HistoryWriter:
        self._thread.start()
        return self

    def record(self, settled: Settled) -> None:
        """Hand over one settled delivery; never blocks."""
        try:
            self.queue.put_nowait(settled)
        except queue.Full:
            HISTORY_DROPPED.inc()
            if self.dropped == 0:
                log.warning(kv("delivery history falling behind, records dropped",
                               queued=self.queue.qsize(), store=self.store.safe_url))
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout``), then stop."""
        self._stop.set()
        self._thread.join(timeout)

    def _take(self) -> list[Settled]:
        try:
            first = self.queue.get(timeout=BATCH_WAIT)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT
        while len(batch) < BATCH:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                if self._stop.is_set() or time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
        return batch

    def _run(self) -> None:
        batch: list[Settled] = []
        wait = 0.2
        while True:
            if not batch:
                if self._stop.is_set() and self.queue.empty():
                    return
                batch = self._take()
            HISTORY_BACKLOG.set(self.queue.qsize() + len(batch))
            try:
                self._housekeeping()
                if batch:
                    with self.store.begin() as connection:
                        write_batch(connection, batch, self.notifier, self.endpoints, self.known)
                    HISTORY_WRITTEN.inc(len(batch))
                    batch = []
                self._recovered()
                wait = 0.2
            except Exception as exc:  # a database error must never end the writer
                self._failed(exc)
                if self._stop.wait(wait):
                    return  # stopping with the database down: what is queued is lost, counted
                wait = min(wait * 2, RETRY_WAIT_MAX)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_heartbeat:
            with self.store.begin() as connection:
                heartbeat(connection, self.notifier, socket.gethostname(), os.getpid(),
                          self.started)
            self._next_heartbeat = now + HEARTBEAT_INTERVAL
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            removed = prune(self.store, self.retention)
            if any(removed.values()):
                log.info(kv("delivery history pruned", **removed))

    def _failed(self, exc: Exception) -> None:
        if not self.failing:
            self.failing = True
            error = str(exc) if isinstance(exc, HistoryUnavailable) else \
                f"{type(exc).__name__}: {exc}"
            log.warning(kv("delivery history unavailable, deliveries go on", error=error[:300]))

    def _recovered(self) -> None:
        if self.failing or self.dropped:
            log.info(kv("delivery history writing again", dropped=self.dropped))
            self.failing = False
            self.dropped = 0
