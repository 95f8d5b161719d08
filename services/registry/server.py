"""``registry serve``: gunicorn (gthread workers) serving the Falcon app, and a small debug
server beside it for ``/metrics``, ``/debug/health`` (liveness) and ``/debug/ready`` (readiness).

The app is built in each worker after the fork (no preloading), so every worker opens its own
broker connections and caches; the debug server runs in gunicorn's master.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import prometheus_client  # noqa: F401 - see below
import prometheus_client.multiprocess  # noqa: F401
from gunicorn.app.base import BaseApplication

from services.registry.access_log import gunicorn_logger_class
from services.registry.allocator import keep_freed_buffers
from services.registry.domain.purge import purge_uploads
from services.registry.health import Readiness
from services.registry.storage import build_driver
from shared.config import Config
from shared.debug_http import BoundedThreadingMixIn
from shared.gc_tuning import settle_after_start
from shared.listen import bind_address
from shared.logfmt import kv
from shared.metrics import mark_process_dead, render_latest
from shared.slow_clients import bounded_body_reads, worker_class

# The debug server and the upload purger are threads in gunicorn's master, which forks workers
# while they run: everything they import is imported here, before any fork, so a worker never
# inherits a module lock held by one of them mid-import.

log = logging.getLogger("registry.server")


def _json(start_response: Any, status: str, doc: dict) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def debug_app(config: Config) -> Any:
    """``/debug/health``: liveness, 200 while the process serves (restarting the registry
    cures nothing a dependency's outage causes). ``/debug/ready``: readiness, 503 with what
    failed when storage or the broker cannot be reached. The Prometheus exposition when
    enabled."""
    readiness = Readiness(config)

    def app(environ: dict, start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if config.http.prometheus_enabled and path == config.http.prometheus_path:
            body, content_type = render_latest()
            start_response("200 OK", [("Content-Type", content_type)])
            return [body]
        if path == "/debug/health":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/debug/ready":
            ready, report = readiness.check()
            return _json(start_response, "200 OK" if ready else "503 Service Unavailable", report)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"404 page not found\n"]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _DebugWSGIServer(BoundedThreadingMixIn, WSGIServer):
    """Bounded threads and time per connection: it runs in gunicorn's master."""


def start_debug_server(config: Config) -> WSGIServer | None:
    if not config.http.debug_addr:
        return None
    host, port = bind_address(config.http.debug_addr).rsplit(":", 1)
    server = make_server(host.strip("[]"), int(port), debug_app(config),
                         server_class=_DebugWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="debug-server", daemon=True).start()
    log.info(kv("debug server listening", addr=config.http.debug_addr))
    return server


def start_upload_purger(config: Config) -> threading.Thread | None:
    """Purge abandoned uploads in the master: first after a jittered delay (so replicas do not
    all scan at once), then every ``interval``."""
    purging = config.storage.uploadpurging
    if not purging.enabled or config.storage.readonly or config.storage.driver == "inmemory":
        return None

    driver = build_driver(config)

    def loop() -> None:
        time.sleep(random.uniform(1.0, min(60.0, max(purging.interval, 1.0))))
        while True:
            try:
                purged = purge_uploads(driver, purging.age, purging.dryrun)
                log.info(kv("upload purge done", purged=len(purged), dryrun=purging.dryrun))
            except Exception as exc:  # keep purging on the next round
                log.warning(kv("upload purge failed", error=exc))
            time.sleep(max(purging.interval, 60.0))

    thread = threading.Thread(target=loop, name="upload-purger", daemon=True)
    thread.start()
    return thread


class RegistryServer(BaseApplication):
    def __init__(self, config: Config):
        self.config = config
        super().__init__()

    def load_config(self) -> None:
        c = self.config
        settings: dict[str, Any] = {
            "bind": [bind_address(c.http.addr)],
            "workers": c.http.workers,
            "threads": c.http.threads,
            "worker_class": worker_class(c.http.timeout),
            "timeout": 300,  # a slow client pushing a large layer is not a hung worker
            "graceful_timeout": int(max(c.http.draintimeout, 5.0)),
            "keepalive": 5,
            "accesslog": None if c.log.accesslog_disabled else "-",
            "errorlog": "-",
            "logger_class": gunicorn_logger_class(c),
            "loglevel": "warning" if c.log.level not in ("debug",) else "debug",
            "when_ready": self._when_ready,
            "child_exit": _child_exit,
            "preload_app": False,
        }
        if c.http.tls_certificate and c.http.tls_key:
            settings["certfile"] = c.http.tls_certificate
            settings["keyfile"] = c.http.tls_key
        for key, value in settings.items():
            self.cfg.set(key, value)

    def _when_ready(self, server: Any) -> None:
        start_debug_server(self.config)
        start_upload_purger(self.config)
        log.info(kv("registry listening", addr=self.config.http.addr,
                    workers=self.config.http.workers, threads=self.config.http.threads))

    def load(self) -> Any:
        # Runs in each worker after the fork: sinks, caches and drivers are per process.
        from services.registry.http.app import create_app

        app = bounded_body_reads(create_app(self.config), self.config.http.timeout.body)
        settle_after_start()
        return app


def _child_exit(server: Any, worker: Any) -> None:
    mark_process_dead(worker.pid)


def run(config: Config) -> int:
    """Serve until stopped; the exit status for the command line."""
    problem = _startup_problem(config)
    if problem:
        log.error(problem)
        return 2
    if config.storage.driver == "inmemory" and config.http.workers > 1:
        log.warning(kv("inmemory storage is per process; serving with one worker"))
        config = _one_worker(config)
    if keep_freed_buffers():
        log.debug(kv("malloc tuned: freed body buffers are kept for reuse"))
    if config.notifications.broker.redis:
        # Imported for a Redis broker only: redis-py takes ~0.25 s to import.
        from shared.broker.redis_transport import client_for, warn_if_not_persistent

        broker = client_for(config.notifications.broker, timeout=1.0)
        warn_if_not_persistent(broker, log)
        broker.close()  # before the fork: no worker inherits its socket
    RegistryServer(config).run()
    return 0


def _startup_problem(config: Config) -> str | None:
    """What would make every worker fail at boot, found once in the master instead of in a
    crash loop: an unusable htpasswd file or certificate bundle, an unreachable storage root."""
    from shared.config import ConfigError

    try:
        if config.auth.htpasswd or config.auth.token:
            from services.registry.auth import build_authenticator

            build_authenticator(config)
        if config.storage.driver == "filesystem":
            build_driver(config)
    except (ConfigError, OSError) as exc:
        return str(exc)
    return None


def _one_worker(config: Config) -> Config:
    from dataclasses import replace

    return replace(config, http=replace(config.http, workers=1))
