"""Readiness of ``registry serve``: can it reach its storage and its broker?

Served by the debug server in gunicorn's master as ``/debug/ready``; ``/debug/health`` is
liveness only (the process answers). The master cannot see a worker's publisher (its up/down
switch lives in each worker's memory), so the broker is checked here with a connection of its
own, with the publisher's short timeouts.

Each check's answer is cached for a few seconds, so frequent probes (kubelet, load balancers,
several replicas' Prometheus) cost one storage stat and one broker connection per interval, and
a check that hangs (a stuck NFS mount) is reported as timed out instead of holding the probe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from services.registry.storage import PathNotFound, StorageDriver, build_driver
from shared.broker import connect, embedded_directory, enabled_endpoints, node_connection
from shared.config import Config

OK = "ok"
CACHE_SECONDS = 3.0
CHECK_TIMEOUT = 2.5


class CachedCheck:
    """Runs ``probe`` (returns None when healthy, else what is wrong) at most once per
    ``ttl`` seconds, in a thread bounded by ``timeout``; concurrent callers share one run."""

    def __init__(self, probe: Callable[[], str | None], ttl: float = CACHE_SECONDS,
                 timeout: float = CHECK_TIMEOUT):
        self.probe = probe
        self.ttl = ttl
        self.timeout = timeout
        self._lock = threading.Lock()
        self._answer: str | None = None
        self._at = float("-inf")
        self._running: threading.Thread | None = None
        self._result: list[str | None] = []

    def __call__(self) -> str | None:
        with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return self._answer
            if self._running is None or not self._running.is_alive():
                self._result = []
                self._running = threading.Thread(target=self._run, args=(self._result,),
                                                 daemon=True, name="readiness-check")
                self._running.start()
            running, result = self._running, self._result
            running.join(self.timeout)
            if running.is_alive():
                answer: str | None = f"no answer within {self.timeout:g}s"
            else:
                answer = result[0] if result else "check failed"
            self._answer, self._at = answer, time.monotonic()
            return answer

    def _run(self, result: list[str | None]) -> None:
        try:
            result.append(self.probe())
        except Exception as exc:  # a check reports, never raises
            result.append(_describe(exc))


def storage_probe(driver: StorageDriver) -> Callable[[], str | None]:
    def probe() -> str | None:
        # The reference's storage health check: stat "/"; "not found" means an empty (new)
        # registry, which is healthy. A root that is not a directory is not.
        try:
            info = driver.stat("/")
        except PathNotFound:
            return None
        return None if info.is_dir else "storage root is not a directory"

    return probe


def broker_probe(config: Config) -> Callable[[], str | None]:
    # Load the transport's modules now, in the master before it forks workers, not in the
    # probe's thread (a fork while that thread imports would hand the child a held lock).
    node_connection(config, purpose="publish").transport  # noqa: B018

    def probe() -> str | None:
        # Each node once, with the publisher's timeouts: what the publisher would reach.
        connection = connect(config, purpose="publish")
        try:
            connection.default_channel  # noqa: B018 - a transport may connect lazily until here
        finally:
            try:
                connection.release()
            except Exception:  # closing a half-open connection may fail; it is dropped anyway
                pass
        return None

    return probe


# A broker outage degrades the registry but leaves it ready: events wait in the spool, so
# taking every replica out of the load balancer would turn a notification delay into an outage.
DEGRADING = frozenset({"broker"})


class Readiness:
    """``check()`` -> (ready, report). Storage failing makes the registry unready; the broker
    failing only degraded (reported, still ready). Checks only what this registry uses: no broker check
    when no endpoint is enabled (events go nowhere), none for storage held in memory (the master
    has its own empty copy, and it cannot be unreachable)."""

    def __init__(self, config: Config):
        self.checks: dict[str, CachedCheck] = {}
        self.fixed: dict[str, str] = {}
        if config.storage.driver == "inmemory":
            self.fixed["storage"] = "ok (inmemory)"
        else:
            self.checks["storage"] = CachedCheck(storage_probe(build_driver(config)))
        if not enabled_endpoints(config):
            self.fixed["broker"] = "not used (no notification endpoints)"
        elif embedded_directory(config) is not None:
            self.fixed["broker"] = "ok (embedded)"
        else:
            self.checks["broker"] = CachedCheck(broker_probe(config))

    def check(self) -> tuple[bool, dict[str, Any]]:
        results = dict(self.fixed)
        failed = {}
        # The checks run concurrently so a probe waits for the slowest, not their sum.
        answers: dict[str, str | None] = {}
        threads = [threading.Thread(target=lambda n=name, c=check: answers.__setitem__(n, c()))
                   for name, check in self.checks.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name in self.checks:
            problem = answers.get(name, "check failed")
            results[name] = OK if problem is None else problem
            if problem is not None:
                failed[name] = problem
        fatal = sorted(name for name in failed if name not in DEGRADING)
        degraded = sorted(name for name in failed if name in DEGRADING)
        status = "unready" if fatal else "degraded" if degraded else "ready"
        report: dict[str, Any] = {"status": status, "checks": results}
        if fatal:
            report["failed"] = fatal
        if degraded:
            report["degraded"] = degraded
        return not fatal, report


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
