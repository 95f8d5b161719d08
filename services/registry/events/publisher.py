"""The registry's event sink: each event is published to the broker, persistent and confirmed,
or written to the local spool when the broker cannot take it; never lost, never blocking long.

``write`` returns once the event is durable:
- broker up: a persistent publish the broker confirmed (RabbitMQ publisher confirms; Redis and the
  embedded broker have written it when the call returns);
- broker unreachable: the first failed publish costs at most the connect timeout per node listed
  plus the I/O timeout (``shared.broker.PUBLISH_*``, 1 s each; a node that refuses at once costs
  nothing), then the event is fsync'd into the spool; while the spool holds events every write
  goes straight to it (milliseconds, and it keeps their order).
A background thread with its own connection flushes the spool in order when the broker is back
(or, in a cluster, once it reaches a surviving node: every connect fails over,
:func:`shared.broker.connect`), then hands its connection to the writers.

Queues that exist on the broker with another type than ``notifications.broker.queuetype`` make
every publish fail the same way (:class:`shared.broker.QueueConflict`): the events spool as in an
outage, pushes keep working, and one ERROR line says what to do (again at most once a minute
while the flusher keeps meeting it).

Thread-safe (a pool of connections, one per concurrent writer, so confirms overlap; a lock around
the spool; gunicorn gthread workers) and fork-safe (connections and threads are created lazily,
and reset in a forked child).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from kombu import Connection, Producer

from services.registry.events.spool import Spool
from services.registry.metrics import (
    EVENTS_PUBLISHED,
    EVENTS_SPOOLED,
    PUBLISH_FAILURES,
    SPOOL_DEPTH,
    LabelledChildren,
)
from shared.broker import (
    HEADER_ATTEMPTS,
    HEADER_ROUTING_KEY,
    QueueConflict,
    Topology,
    connect,
    enabled_endpoints,
    topology_for,
)
from shared.config import Config
from shared.events import Event
from shared.logfmt import kv

log = logging.getLogger("registry.events")

FLUSH_RETRY_MIN = 0.1
FLUSH_RETRY_MAX = 2.0
CONFLICT_LOG_INTERVAL = 60.0  # the same queue conflict is logged again after this long at most
CONFLICT_MESSAGE = "broker queue exists with another type, events spooled until it is fixed"


class _BrokerLink:
    """One connection and producer, declared topology included; used by one thread at a time."""

    def __init__(self, config: Config, topology: Topology):
        self.config = config
        self.topology = topology
        self.connection: Connection | None = None
        self.producer: Producer | None = None
        self.generation = 0

    def publish(self, routing_key: str, payload: dict[str, Any]) -> None:
        if self.producer is None:
            # Each node of the broker once (kombu's own retry would sleep 2 s between attempts);
            # after a node is lost, the first that answers.
            connection = connect(self.config, purpose="publish")
            try:
                self.topology.declare(connection, enabled_endpoints(self.config))
                self.producer = Producer(connection.default_channel, serializer="json")
            except Exception:
                _close_quietly(connection)
                raise
            self.connection = connection
        headers = {HEADER_ROUTING_KEY: routing_key, HEADER_ATTEMPTS: 0}
        try:
            # Persistent, and on RabbitMQ confirmed (confirm_publish): it returns once the
            # broker has the event, or raises and the event is spooled.
            self.producer.publish(payload, exchange=self.topology.exchange,
                                  routing_key=routing_key, delivery_mode=2,
                                  headers=headers, retry=False)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            _close_quietly(self.connection)
        self.connection = None
        self.producer = None


def _close_quietly(connection: Connection) -> None:
    try:
        connection.release()
    except Exception:  # a dead connection may fail to close; it is dropped either way
        pass


class _LinkPool:
    """Idle broker links. Each writer thread takes its own, so publisher confirms overlap
    (RabbitMQ confirms a persistent message after its batched fsync: one shared connection
    would serialize every thread behind that wait). After an outage every older link is
    discarded rather than tried again."""

    def __init__(self, config: Config, topology: Topology):
        self.config = config
        self.topology = topology
        self._idle: list[_BrokerLink] = []
        self._lock = threading.Lock()
        self.generation = 0

    def take(self) -> _BrokerLink:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            link = _BrokerLink(self.config, self.topology)
            link.generation = self.generation
            return link

    def give(self, link: _BrokerLink) -> None:
        with self._lock:
            if link.generation == self.generation:
                self._idle.append(link)
                return
        link.close()

    def adopt(self, link: _BrokerLink) -> None:
        """A link known to work (the flusher's) joins the current generation."""
        link.generation = self.generation
        self.give(link)

    def discard_all(self) -> None:
        with self._lock:
            self.generation += 1
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()


_published = LabelledChildren(EVENTS_PUBLISHED)


def _count_published(routing_key: str) -> None:
    kind, _, action = routing_key.partition(".")
    _published(action, kind).inc()


class BrokerPublisher:
    """An :class:`shared.events.EventSink` backed by the broker and the spool."""

    def __init__(self, config: Config):
        self.config = config
        self.topology = topology_for(config)
        self._reset()
        os.register_at_fork(after_in_child=self._reset)
        # Events an earlier run (or a dead worker) left in the spool go out now, not at the
        # next push.
        _ = self.spool

    def _reset(self) -> None:
        # Runs at construction and in a forked child: nothing of the parent's connection,
        # lock or threads is usable there (a child finds a leftover spool at its first write).
        self._lock = threading.Lock()  # guards the spool and the up/down switch
        self._links = _LinkPool(self.config, self.topology)
        self._spool: Spool | None = None
        self._down = False
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False
        self._conflict_lock = threading.Lock()
        self._conflict_logged: tuple[str, float] | None = None  # (what, when) last logged

    @property
    def spool(self) -> Spool:
        if self._spool is None:
            self._spool = Spool(self.config.spool_directory())
            if self._spool.pending():
                # Left by an earlier run (or another worker): flush it before anything new.
                self._down = True
                self._start_flusher()
        return self._spool

    def write(self, event: Event) -> None:
        payload = event.to_dict()
        routing_key = event.routing_key
        spool = self.spool
        if not self._down and not spool.pending():
            link = self._links.take()
            try:
                link.publish(routing_key, payload)
            except Exception as exc:
                link.close()
                PUBLISH_FAILURES.inc()
                if isinstance(exc, QueueConflict):
                    self._report_conflict(exc)
                else:
                    log.warning(kv("event publish failed, spooling", error=_describe(exc)))
                with self._lock:
                    if not self._down:
                        self._down = True
                        self._links.discard_all()
            else:
                self._links.give(link)
                _count_published(routing_key)
                return
        with self._lock:
            spool.append(routing_key, payload)
            EVENTS_SPOOLED.inc()
            SPOOL_DEPTH.set(spool.depth())
            self._start_flusher()

    def _start_flusher(self) -> None:
        if self._flusher is not None and self._flusher.is_alive():
            self._wake.set()
            return
        self._flusher = threading.Thread(target=self._flush_loop, name="spool-flusher",
                                         daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        link = _BrokerLink(self.config, self.topology)
        wait = FLUSH_RETRY_MIN
        while not self._closed:
            with self.spool.flushing() as mine:
                if mine and self._flush_all(link):
                    return
                if mine:
                    wait = min(wait * 2, FLUSH_RETRY_MAX)
                else:
                    wait = FLUSH_RETRY_MIN  # another process is flushing; look again soon
            self._wake.wait(wait)
            self._wake.clear()
        link.close()

    def _flush_all(self, link: _BrokerLink) -> bool:
        """Publish every spooled event in order. True once the spool is empty and the writers
        are back on the broker."""
        spool = self.spool
        while True:
            for path in spool.entries():
                try:
                    routing_key, payload = spool.read(path)
                except FileNotFoundError:
                    continue
                try:
                    link.publish(routing_key, payload)
                except QueueConflict as exc:
                    PUBLISH_FAILURES.inc()
                    self._report_conflict(exc)
                    return False
                except Exception as exc:
                    PUBLISH_FAILURES.inc()
                    log.debug(kv("spool flush: broker still unreachable", error=_describe(exc)))
                    return False
                spool.remove(path)
                _count_published(routing_key)
                SPOOL_DEPTH.set(spool.depth())
            with self._lock:
                if spool.pending():
                    continue  # written while we flushed: keep going, in order
                self._down = False
                # The flusher's connection is known good; the writers' older ones may be stale.
                self._links.discard_all()
                self._links.adopt(link)
                SPOOL_DEPTH.set(0)
                log.info(kv("event spool flushed, publishing to the broker again"))
                return True

    def _report_conflict(self, exc: QueueConflict) -> None:
        """An ERROR line for the conflict, but not at every flush retry (every 2 s at most)."""
        now = time.monotonic()
        with self._conflict_lock:
            last = self._conflict_logged
            if last is not None and last[0] == str(exc) and now - last[1] < CONFLICT_LOG_INTERVAL:
                return
            self._conflict_logged = (str(exc), now)
        log.error(exc.log_line(CONFLICT_MESSAGE))

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._links.discard_all()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
