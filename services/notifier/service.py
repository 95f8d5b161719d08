"""``registry notifier CONFIG``: one consumer per enabled endpoint until SIGTERM.

Run as many notifier processes as you like: they compete for each endpoint's queue. At start a
disabled endpoint's queue is unbound from the events exchange, so it stops collecting events;
so is, at start and every minute, the queue of an endpoint removed from the config
(:mod:`shared.broker.endpoint_record` tells which).

A broker outage is waited out. Queues that exist with another type than ``queuetype`` are not:
that lasts until someone deletes them, so the notifier logs it once and exits with
:data:`EXIT_QUEUE_CONFLICT`. Its events stay in the broker; a crash-looping pod is what an operator
notices, and during a rolling update it stops the rollout while the old notifiers keep delivering.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from kombu import Connection

from services.notifier.consumer import SHUTDOWN_GRACE, EndpointConsumer
from services.notifier.debugserver import start_debug_server
from services.notifier.metrics import export_endpoints
from services.notifier.pausing import EndpointGate, PauseWatcher
from services.notifier.recording import DeliveryRecorder
from shared.broker import (
    QueueConflict,
    connected,
    embedded_directory,
    enabled_endpoints,
    endpoint_record,
    topology_for,
)
from shared.broker.embedded import recover_claimed
from shared.config import Config
from shared.history import HistoryStore, HistoryUnavailable, HistoryWriter, open_store
from shared.history.writer import notifier_id
from shared.logfmt import kv

log = logging.getLogger("notifier")

RECOVERY_INTERVAL = 2.0  # how often to look for the claims of a dead notifier (embedded, Redis)
# The GIL switch interval in a notifier process. Each event passes through the one consumer
# thread (receive, ack) between the delivery threads' HTTP work; at the default 5 ms it waits
# long for the GIL behind them, and a backlog drains slower (measured: 1 notifier on RabbitMQ,
# ~1320 -> ~1480 events/s).
GIL_SWITCH_INTERVAL = 0.001
EXIT_QUEUE_CONFLICT = 78  # sysexits' EX_CONFIG: the config does not fit the broker's queues
CONFLICT_MESSAGE = "broker queue exists with another type, notifier exiting"


def _prepare_broker(config: Config, stop: threading.Event) -> bool:
    """Declare every enabled endpoint's queues and unbind the disabled ones', waiting for the
    broker if it is not up yet. A :class:`QueueConflict` is raised: waiting would not end it."""
    wait = 0.5
    while not stop.is_set():
        try:
            with connected(config, purpose="consume", rounds=2) as connection:
                topology_for(config).declare(connection, enabled_endpoints(config))
                _unbind_disabled(config, connection)
            return True
        except QueueConflict:
            raise
        except Exception as exc:
            log.warning(kv("broker unreachable, retrying", error=f"{type(exc).__name__}: {exc}"))
            stop.wait(wait)
            wait = min(wait * 2, 2.0)
    return False


def _unbind_disabled(config: Config, connection: Connection) -> None:
    """A disabled endpoint's queue stays bound to the events exchange from when it was enabled,
    and would collect every event forever with nobody reading it. Unbinding keeps what it holds
    (delivered if the endpoint is enabled again, when the declare binds it again); a queue that
    never existed is not created."""
    topology = topology_for(config)
    for endpoint in config.notifications.endpoints:
        if endpoint.disabled:
            queued = topology.unbind_from_events(connection, endpoint.name)
            if queued is not None:
                log.info(kv("endpoint disabled, queue unbound", endpoint=endpoint.name,
                            queued=queued))


class RemovedEndpoints:
    """Stamps this notifier's endpoints in the broker's record, and unbinds the queues of
    endpoints removed from the config (each announced once per process)."""

    def __init__(self, config: Config):
        self.config = config
        self.topology = topology_for(config)
        self.names = [e.name for e in config.notifications.endpoints]
        self.announced: set[str] = set()
        self.failed = False  # a failure is a WARNING the first time, then DEBUG

    def check(self, connection: Connection) -> None:
        record = endpoint_record.stamp(connection, self.topology, self.names)
        for name in endpoint_record.removed(record, self.names):
            # Unbound every time: a registry still on an old config binds it again when it
            # (re)connects.
            queued = self.topology.unbind_from_events(connection, name)
            if queued is not None and name not in self.announced:
                self.announced.add(name)
                log.warning(kv("endpoint no longer configured, queue unbound", endpoint=name,
                               queued=queued,
                               fix=f"registry queues CONFIG delete --endpoint {name} --yes"))

    def check_now(self) -> None:
        """:meth:`check` on a connection of its own; an unreachable broker is left for later."""
        try:
            with connected(self.config, purpose="consume", rounds=2) as connection:
                self.check(connection)
        except Exception as exc:  # an outage: the consumers report it
            log.log(logging.DEBUG if self.failed else logging.WARNING,
                    kv("removed endpoints not checked", error=f"{type(exc).__name__}: {exc}"))
            self.failed = True


def _history(config: Config, stop: threading.Event) -> tuple[
        HistoryStore | None, HistoryWriter | None, PauseWatcher | None]:
    """The delivery history's writer and the pause watcher, both on the configured store. The
    database is not needed to start: both retry in the background while it is unreachable."""
    if config.history.disabled:
        log.info(kv("delivery history disabled: no history, no endpoint pauses"))
        return None, None, None
    store = open_store(config)
    try:
        # Before the consumers start: migrating (Alembic) holds the interpreter for a moment.
        store.ready()
    except HistoryUnavailable as exc:
        log.warning(kv("delivery history unavailable, deliveries go on", error=str(exc)[:300]))
    endpoints = [e for e in config.notifications.endpoints if not e.disabled]
    me = notifier_id()
    writer = HistoryWriter(store, endpoints, config.history.retention, notifier=me,
                           log_config=config.log).start()
    watcher = PauseWatcher(store, endpoints, me, stop)
    watcher.prime()
    watcher.start()
    log.info(kv("delivery history", store=store.safe_url))
    return store, writer, watcher


def _redis_claims(config: Config, prepared: bool) -> Callable[[], None] | None:
    """On a Redis broker, what puts the messages a dead notifier had claimed back in their queue
    (called every :data:`RECOVERY_INTERVAL`); None on any other broker. Imported then only:
    redis-py takes ~0.25 s to import, more than half of what a notifier imports to start."""
    if not config.notifications.broker.redis:
        return None
    import redis

    from shared.broker.redis_transport import client_for, recover_claims, warn_if_not_persistent

    client = client_for(config.notifications.broker)
    if prepared:  # the broker answered: its settings can be read
        warn_if_not_persistent(client, log)

    def recover() -> None:
        try:
            recover_claims(client, log)
        except redis.RedisError as exc:  # an outage: the consumers report it
            log.debug(kv("claim recovery skipped", error=exc))

    return recover


def run(config: Config, serve_debug: bool) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info(kv("notifier stopping", signal=signal.Signals(signum).name))
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    endpoints = enabled_endpoints(config)
    export_endpoints(e.name for e in endpoints)
    for endpoint in config.notifications.endpoints:
        if endpoint.disabled:
            log.info(kv("endpoint disabled, not consuming", endpoint=endpoint.name))
    consumers: list[EndpointConsumer] = []

    def health() -> dict[str, Any]:
        # Liveness: every consumer thread runs. A broker outage only shows as "degraded" (200):
        # the consumers reconnect by themselves, and a restart would not bring the broker back.
        states = {c.endpoint.name: c.connected for c in consumers}
        alive = all(c.is_alive() for c in consumers) and not stop.is_set()
        status = "ok" if all(states.values()) else "degraded"
        return {"healthy": alive, "status": status if alive else "failing", "endpoints": states}

    server = None
    if serve_debug and config.http.debug_addr:
        try:
            server = start_debug_server(config.http.debug_addr, health,
                                        config.http.prometheus_path)
            log.info(kv("debug server listening", addr=config.http.debug_addr))
        except OSError as exc:  # deliveries matter more than the metrics page: keep going
            log.error(kv("debug server failed", addr=config.http.debug_addr, error=exc))

    broker = config.notifications.broker
    log.info(kv("notifier starting", broker=broker.display,
                exchange=broker.exchange, endpoints=",".join(e.name for e in endpoints) or "none"))
    # Even with every endpoint disabled (nothing to consume): a registry still on an older
    # config may publish, and the disabled queues must not collect that.
    removals = RemovedEndpoints(config)
    try:
        prepared = bool(config.notifications.endpoints) and _prepare_broker(config, stop)
    except QueueConflict as exc:
        log.error(exc.log_line(CONFLICT_MESSAGE))
        if server is not None:
            server.shutdown()
        return EXIT_QUEUE_CONFLICT
    recover_redis_claims = _redis_claims(config, prepared)  # None unless the broker is Redis
    store, writer, watcher = _history(config, stop) if prepared else (None, None, None)
    recorder = DeliveryRecorder(writer)
    if prepared:
        for endpoint in endpoints:
            consumer = EndpointConsumer(config, endpoint, stop, recorder=recorder,
                                        gate=EndpointGate(endpoint, watcher))
            consumer.start()
            consumers.append(consumer)
    embedded = embedded_directory(config)
    next_recovery = 0.0
    next_record = 0.0
    while not stop.wait(0.5):
        if prepared and time.monotonic() >= next_record:
            next_record = time.monotonic() + endpoint_record.RECORD_INTERVAL
            removals.check_now()
        if time.monotonic() < next_recovery:
            continue
        next_recovery = time.monotonic() + RECOVERY_INTERVAL
        # A notifier killed mid-delivery left claimed messages: deliver them again.
        if embedded is not None:
            recovered = recover_claimed(embedded)
            if recovered:
                log.warning(kv("requeued messages of a dead notifier", count=recovered))
        if recover_redis_claims is not None:
            recover_redis_claims()
    for consumer in consumers:
        consumer.join(SHUTDOWN_GRACE + 2)
    if writer is not None:
        writer.close()
    if store is not None:
        store.close()
    if server is not None:
        server.shutdown()
    if any(c.conflict is not None for c in consumers):
        # A queue re-created with another type while we ran (a consumer logged it and stopped us)
        return EXIT_QUEUE_CONFLICT
    log.info(kv("notifier stopped"))
    return 0
