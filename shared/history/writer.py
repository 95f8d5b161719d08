"""The notifier's writer: settled deliveries reach the database in batches, off the delivery
path and out of the notifier's process.

A notifier draining a backlog is CPU-bound, and every event passes through its one consumer
thread: Python work on another thread of the same process takes the interpreter lock from it
(measured: a history written by a thread of the notifier halved the drain rate for +50% CPU).
So :meth:`HistoryWriter.record` only appends to a list; a feeder thread hands what has gathered,
pickled in chunks, to a writer process of its own (``history-writer``), which writes a batch per
transaction, stamps the notifier as seen (every :data:`HEARTBEAT_INTERVAL`) and prunes old rows
(every :data:`PRUNE_INTERVAL`).

A slow or unreachable database never slows a delivery: the writer process keeps up to
:data:`QUEUE_SIZE` records while it retries, then stops reading; records then gather in the
notifier up to :data:`QUEUE_SIZE` more, and past that new ones are dropped, counted
(``registry_notifications_history_dropped_total``) and said once in the log (``WARNING delivery
history falling behind, records dropped``); when the database answers again the history catches
up and ``INFO delivery history writing again dropped=N`` says what it missed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from multiprocessing.connection import Connection

from shared.config import EndpointConfig, LogConfig
from shared.gc_tuning import settle_after_start
from shared.history.dialect import CopyRoute
from shared.history.engine import HistoryUnavailable
from shared.history.metrics import HISTORY_BACKLOG, HISTORY_DROPPED, HISTORY_WRITTEN
from shared.history.records import Settled
from shared.history.retention import prune
from shared.history.store import HistoryStore
from shared.history.writes import heartbeat, write_batch
from shared.logfmt import kv, setup_logging

log = logging.getLogger("notifier.history")

QUEUE_SIZE = 50_000  # records held on each side while the database is slow: ~30 s of a busy notifier
FEED_INTERVAL = 0.1  # seconds between hand-overs to the writer process
CHUNK = 250  # records pickled together (a short hold of the interpreter lock)
BATCH = 2000  # records written in one transaction
BATCH_WAIT = 0.2  # seconds a partial batch waits for more
RETRY_WAIT_MAX = 5.0
HEARTBEAT_INTERVAL = 10.0
PRUNE_INTERVAL = 60.0
FIRST_PRUNE = 5.0
KNOWN_EVENTS = 100_000  # event ids remembered as written (their rows are not sent again)
# A writer process that dies young is restarted after a wait, doubled each time it dies young
# again: one that can never start (a broken install, killed for memory at once) would otherwise
# cost a Python start-up every FEED_INTERVAL.
RESTART_WAIT_MIN = 1.0
RESTART_WAIT_MAX = 60.0
LIVED_LONG = 60.0  # seconds: a writer that lived this long is restarted at once
END = b""  # the notifier is stopping: write what is left and exit
# The writer ends when the notifier says so or is gone, never on the signals that stop it.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def notifier_id() -> str:
    """Which notifier made an attempt: host (the pod's name on Kubernetes) and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class HistoryWriter:
    """The notifier's side: :meth:`record` never blocks; :meth:`start` starts the writer
    process and the thread that feeds it."""

    def __init__(self, store: HistoryStore, endpoints: Sequence[EndpointConfig],
                 retention: float, notifier: str | None = None, queue_size: int = QUEUE_SIZE,
                 log_config: LogConfig | None = None):
        self.store = store
        self.endpoints = [e for e in endpoints if not e.disabled]
        self.retention = retention
        self.notifier = notifier or notifier_id()
        self.queue_size = queue_size
        self.log_config = log_config or LogConfig()
        self.dropped = 0  # since the history last said it was writing
        self._pending: deque[Settled] = deque()  # appended by delivery threads, taken by the feeder
        self._in_flight = 0  # handed to the writer process, not yet written
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self._process = None
        self._spawned = 0.0  # monotonic time of the last start
        self._restart_wait = 0.0
        self._connection: Connection | None = None

    def record(self, settled: Settled) -> None:
        """Hand over one settled delivery; never blocks."""
        if len(self._pending) >= self.queue_size:
            HISTORY_DROPPED.inc()
            if self.dropped == 0:
                log.warning(kv("delivery history falling behind, records dropped",
                               waiting=len(self._pending), store=self.store.safe_url))
            self.dropped += 1
            return
        self._pending.append(settled)

    def start(self) -> HistoryWriter:
        self._spawn()
        self._feeder = threading.Thread(target=self._feed, name="history-feeder", daemon=True)
        self._feeder.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Hand over what is left, let the writer process write it (for up to ``timeout``),
        then stop it."""
        self._stop.set()
        if self._feeder is not None:
            self._feeder.join(timeout)
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _spawn(self) -> None:
        # A new interpreter, not a fork (the notifier has threads, and their locks, by now), in
        # a session of its own: a Ctrl-C or SIGTERM to the notifier's process group does not
        # reach it, so a stopping notifier still hands over what it holds; it ends when the
        # notifier says so, or is gone (end of the pipe). Between its fork and its new session
        # the child is still in the notifier's group: the stop signals are held while it
        # starts (the notifier takes them right after), and the writer ignores them.
        ours, theirs = multiprocessing.Pipe(duplex=True)
        self._spawned = time.monotonic()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._process = subprocess.Popen(
                writer_command(theirs.fileno()), pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        theirs.close()
        self._connection = ours
        self._in_flight = 0
        try:
            ours.send_bytes(pickle.dumps((self.store.url, self.endpoints, self.retention,
                                          self.notifier, self.log_config)))
        except OSError as exc:  # it died as it started: the feeder's next hand-over restarts it
            log.error(kv("delivery history writer process did not start",
                         error=f"{type(exc).__name__}: {exc}"))

    def _feed(self) -> None:
        while True:
            stopping = self._stop.wait(FEED_INTERVAL)
            batch = [self._pending.popleft() for _ in range(len(self._pending))]
            try:
                for start in range(0, len(batch), CHUNK):
                    chunk = batch[start:start + CHUNK]
                    self._connection.send_bytes(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
                    self._in_flight += len(chunk)
                    self._read_acks()
                self._read_acks()
                if stopping:
                    self._connection.send_bytes(END)
                    return
            except (OSError, EOFError) as exc:  # the writer process died: start another
                lost = self._in_flight + len(batch)
                HISTORY_DROPPED.inc(lost)
                wait = self._next_restart_wait()
                log.error(kv("delivery history writer process ended, restarting it", lost=lost,
                             restart_in=f"{wait:g}s", error=f"{type(exc).__name__}: {exc}"))
                if stopping or self._stop.wait(wait):
                    return
                self._spawn()
            HISTORY_BACKLOG.set(len(self._pending) + self._in_flight)

    def _next_restart_wait(self) -> float:
        """At once after a writer that lived long; after one that died young, RESTART_WAIT_MIN
        doubled for each young death in a row, up to RESTART_WAIT_MAX."""
        if time.monotonic() - self._spawned >= LIVED_LONG:
            self._restart_wait = 0.0
        else:
            self._restart_wait = min(max(self._restart_wait * 2, RESTART_WAIT_MIN),
                                     RESTART_WAIT_MAX)
        return self._restart_wait

    def _read_acks(self) -> None:
        while self._connection.poll():
            written = self._connection.recv()
            self._in_flight -= written
            HISTORY_WRITTEN.inc(written)
            if self.dropped:
                log.info(kv("delivery history writing again", dropped=self.dropped))
                self.dropped = 0


class _KnownEvents(OrderedDict):
    """The ids of events already written, the oldest forgotten first."""

    def update(self, ids) -> None:  # type: ignore[override]
        for event_id in ids:
            self[event_id] = None
        while len(self) > KNOWN_EVENTS:
            self.popitem(last=False)


def writer_command(fd: int) -> list[str]:
    """The writer process's command line, given the descriptor of its end of the pipe."""
    return [sys.executable, "-m", "shared.history.writer", str(fd)]


def ignore_stop_signals() -> None:
    """Ignore, then unblock, the stop signals the writer was started with held: ignoring drops
    one that came while it started."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def writer_process(connection: Connection, url: str, endpoints: list[EndpointConfig],
                   retention: float, notifier: str, log_config: LogConfig) -> None:
    """The writer process: records in from the notifier, batches out to the database."""
    setup_logging(log_config)
    writer = BatchWriter(HistoryStore(url), connection, endpoints, retention, notifier)
    # Each record is a dozen containers that live until their batch is written: with the
    # default threshold the collector ran every ~60 records and walked the buffer each time
    # (in process, 18,000 records waiting: 51-65 -> 40-51 us of CPU a record with this tuning).
    settle_after_start()
    writer.run()


class BatchWriter:
    def __init__(self, store: HistoryStore, connection: Connection,
                 endpoints: list[EndpointConfig], retention: float, notifier: str):
        self.store = store
        self.connection = connection
        self.endpoints = endpoints
        self.retention = retention
        self.notifier = notifier
        self.started = time.time()
        self.buffer: list[Settled] = []
        self.known = _KnownEvents()
        self.route = CopyRoute()
        self.ending = False
        self.failing = False
        self.next_heartbeat = 0.0
        self.next_prune = time.monotonic() + FIRST_PRUNE

    def _receive(self, wait: float) -> None:
        """Take what the notifier sent, waiting up to ``wait`` for the first; nothing more
        while the buffer is full (the notifier then holds, and drops, what comes)."""
        deadline = time.monotonic() + wait
        while not self.ending and len(self.buffer) < QUEUE_SIZE:
            left = max(0.0, deadline - time.monotonic())
            if not self.connection.poll(left if len(self.buffer) < BATCH else 0):
                return
            try:
                data = self.connection.recv_bytes()
            except EOFError:  # the notifier is gone
                self.ending = True
                return
            if data == END:
                self.ending = True
                return
            self.buffer.extend(pickle.loads(data))

    def run(self) -> None:
        wait = 0.2
        while True:
            self._receive(BATCH_WAIT)
            try:
                self._housekeeping()
                while self.buffer:
                    batch = self.buffer[:BATCH]
                    with self.store.begin() as connection:
                        write_batch(connection, batch, self.notifier, self.endpoints, self.known,
                                    self.route)
                    del self.buffer[:len(batch)]
                    self._ack(len(batch))
                    if len(self.buffer) < BATCH and not self.ending:
                        break  # gather more before the next transaction
                if self.failing:
                    log.info(kv("delivery history reachable again", store=self.store.safe_url))
                    self.failing = False
                wait = 0.2
            except Exception as exc:  # a database error must never end the writer
                if not self.failing:
                    self.failing = True
                    error = str(exc) if isinstance(exc, HistoryUnavailable) else \
                        f"{type(exc).__name__}: {exc}"
                    log.warning(kv("delivery history unavailable, deliveries go on",
                                   error=error[:300]))
                if self.ending:
                    return  # stopping with the database down: what is held is lost
                time.sleep(wait)
                wait = min(wait * 2, RETRY_WAIT_MAX)
            if self.ending and not self.buffer:
                return

    def _ack(self, count: int) -> None:
        try:
            self.connection.send(count)
        except OSError:  # the notifier is gone; what is written stays written
            self.ending = True

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self.next_heartbeat:
            with self.store.begin() as connection:
                host, _, pid = self.notifier.rpartition(":")
                heartbeat(connection, self.notifier, host or socket.gethostname(),
                          int(pid) if pid.isdigit() else os.getpid(), self.started)
            self.next_heartbeat = now + HEARTBEAT_INTERVAL
        if now >= self.next_prune:
            self.next_prune = now + PRUNE_INTERVAL
            removed = prune(self.store, self.retention)
            if any(removed.values()):
                log.info(kv("delivery history pruned", **removed))


if __name__ == "__main__":  # started by HistoryWriter._spawn: the pipe's descriptor, then settings
    ignore_stop_signals()
    pipe = Connection(int(sys.argv[1]))
    writer_process(pipe, *pickle.loads(pipe.recv_bytes()))
