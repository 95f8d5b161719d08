"""Pausing endpoints: an operator's pause, and auto-pause.

The pause state lives in the delivery history's database (:mod:`shared.history.controls`), so
every notifier shares it. :class:`PauseWatcher` (one thread per notifier) reads it twice a
second, tells each endpoint's :class:`EndpointGate`, sets ``registry_notifications_endpoint_paused``
and logs each change. A consumer whose gate holds stops taking events (those in flight finish)
and its events wait in its queue.

Auto-pause: an endpoint every one of whose deliveries has failed for ``autopause`` (default 30m;
0: never) is paused instead of using up its events' attempts into the dead letters. Once per
:func:`probe_interval` one notifier (whichever claims the slot) tries the event at the head of
its queue; a 2xx resumes the endpoint and its backlog flows in order, a failure puts the event
back with no attempt used up (:func:`services.notifier.retry.after_failure`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from services.notifier.metrics import ENDPOINT_PAUSED
from services.notifier.outcomes import Delivered, Dropped, Outcome, RetryLater
from shared.config import EndpointConfig
from shared.history import AUTO, OPERATOR, HistoryStore
from shared.history import controls as store_controls
from shared.logfmt import kv

log = logging.getLogger("notifier")

POLL_INTERVAL = 0.5  # a pause holds on every notifier within a second
PROBE_INTERVAL = 60.0
LOCAL_GRACE = 5.0  # how long a gate trusts its own request before the store confirms it


def probe_interval(endpoint: EndpointConfig) -> float:
    """Once a minute, or once per ``autopause`` when that is shorter."""
    return min(PROBE_INTERVAL, endpoint.autopause) if endpoint.autopause > 0 else PROBE_INTERVAL


class EndpointGate:
    """Whether one endpoint's consumer may take events. ``held`` is read on every turn of the
    consumer's loop, so it is a plain attribute the watcher sets."""

    def __init__(self, endpoint: EndpointConfig, watcher: PauseWatcher | None = None):
        self.endpoint = endpoint
        self.watcher = watcher
        self.held = False
        self.reason: str | None = None  # what the store says
        self.failing_since: float | None = None
        self._requested: tuple[str, float] | None = None  # ("pause"|"resume", when)
        if watcher is not None:
            watcher.gates[endpoint.name] = self

    @property
    def auto_paused(self) -> bool:
        return self.held and self.reason == AUTO

    def update(self, reason: str | None) -> None:
        """The store's state (called by the watcher); a request of ours not yet seen there wins
        for :data:`LOCAL_GRACE`."""
        self.reason = reason
        if self._requested is not None:
            wanted, since = self._requested
            if (wanted == "pause") == (reason is not None) or time.monotonic() - since > LOCAL_GRACE:
                self._requested = None
            else:
                return
        self.held = reason is not None

    def observe(self, outcome: Outcome) -> None:
        """A settled outcome: a 2xx clears the failing streak; a failed attempt starts it or,
        past ``autopause``, pauses the endpoint."""
        if isinstance(outcome, Delivered):
            self.failing_since = None
            return
        if not isinstance(outcome, RetryLater | Dropped) or self.watcher is None:
            return
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        elif (self.endpoint.autopause > 0 and not self.held
              and now - self.failing_since >= self.endpoint.autopause):
            self._request("pause")
            self.watcher.requests.put((AUTO, self.endpoint.name,
                                       round(now - self.failing_since, 1)))

    def probe_due(self) -> bool:
        """True when this notifier takes the endpoint's next probe (one per interval overall)."""
        if self.watcher is None or not self.auto_paused:
            return False
        return self.watcher.claim_probe(self.endpoint.name, probe_interval(self.endpoint))

    def probed(self, outcome: Outcome) -> None:
        if isinstance(outcome, Delivered) and self.watcher is not None:
            self.failing_since = None
            self._request("resume")
            self.watcher.requests.put(("probe-ok", self.endpoint.name, None))

    def _request(self, wanted: str) -> None:
        self._requested = (wanted, time.monotonic())
        self.held = wanted == "pause"


class PauseWatcher(threading.Thread):
    def __init__(self, store: HistoryStore, endpoints: Sequence[EndpointConfig], notifier: str,
                 stop: threading.Event):
        super().__init__(name="pause-watcher", daemon=True)
        self.store = store
        self.names = [e.name for e in endpoints]
        self.notifier = notifier
        self.stop = stop
        self.gates: dict[str, EndpointGate] = {}
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.known: dict[str, str | None] = {}
        self.failing = False
        for name in self.names:
            for reason in (OPERATOR, AUTO):
                ENDPOINT_PAUSED.labels(endpoint=name, reason=reason).set(0)

    def claim_probe(self, name: str, interval: float) -> bool:
        try:
            return store_controls.claim_probe(self.store, name, interval)
        except Exception as exc:  # the store is down: no probe now
            log.debug(kv("probe slot not claimed", endpoint=name, error=exc))
            return False

    def prime(self) -> None:
        """Read the pause states once before the consumers start (a paused endpoint must not
        take events in its first half second); an unreachable store is left to :meth:`run`."""
        try:
            self._read()
        except Exception as exc:
            log.warning(kv("endpoint pause state unreadable, keeping the last known",
                           error=f"{type(exc).__name__}: {exc}"[:300]))
            self.failing = True

    def run(self) -> None:
        while not self.stop.wait(POLL_INTERVAL):
            try:
                self._apply_requests()
                self._read()
                if self.failing:
                    log.info(kv("endpoint pause state readable again"))
                    self.failing = False
            except Exception as exc:  # the store is down: every endpoint keeps its last state
                if not self.failing:
                    log.warning(kv("endpoint pause state unreadable, keeping the last known",
                                   error=f"{type(exc).__name__}: {exc}"[:300]))
                    self.failing = True

    def _apply_requests(self) -> None:
        while True:
            try:
                kind, name, failing_for = self.requests.get_nowait()
            except queue.Empty:
                return
            if kind == AUTO:
                if store_controls.set_paused(self.store, name, AUTO, self.notifier):
                    log.warning(kv("endpoint auto-paused: every delivery failing",
                                   endpoint=name, failing_for=f"{failing_for}s",
                                   fix=f"registry endpoints CONFIG resume {name}"))
            else:
                store_controls.set_resumed(self.store, name, only_reason=AUTO)

    def _read(self) -> None:
        states = store_controls.read_controls(self.store)
        for name in self.names:
            control = states.get(name)
            reason = control.reason if control is not None and control.paused else None
            if self.known.get(name) != reason:
                if reason is None:
                    log.info(kv("endpoint resumed", endpoint=name, was=self.known[name]))
                else:
                    log.warning(kv("endpoint paused", endpoint=name, reason=reason,
                                   by=control.by if control else None))
            self.known[name] = reason
            for r in (OPERATOR, AUTO):
                ENDPOINT_PAUSED.labels(endpoint=name, reason=r).set(1 if reason == r else 0)
            gate = self.gates.get(name)
            if gate is not None:
                gate.update(reason)
