"""Prometheus plumbing shared by both services.

gunicorn runs several worker processes (and the embedded notifier runs beside them), so metrics
use prometheus-client's multiprocess mode: every process writes its samples under
``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds them all up. :func:`prepare_multiprocess_dir`
must run before ``prometheus_client`` is first imported in a process that forks workers.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(base: str | None = None) -> Path:
    """Create a fresh, empty multiprocess folder and point the environment at it. A temporary
    folder made here is removed when this process exits (every start makes a new one)."""
    path = Path(base) if base else Path(tempfile.mkdtemp(prefix="registry-metrics-"))
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    if base is None:
        creator = os.getpid()

        def remove() -> None:
            # Forked children (gunicorn's workers, the embedded notifier) inherit this handler;
            # the folder is the creator's to remove, once everything has stopped writing.
            if os.getpid() == creator:
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(remove)
    return path


def render_latest() -> tuple[bytes, str]:
    """The exposition text for a scrape: all processes' samples when in multiprocess mode."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    if os.environ.get(ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Called when a worker exits, so its live gauges stop counting."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


_pid = os.getpid()


def _refresh_pid() -> None:
    global _pid
    _pid = os.getpid()


def _current_pid() -> int:
    return _pid


def cache_process_id() -> None:
    """In multiprocess mode, every sample recorded asks ``os.getpid()`` (a system call since
    glibc 2.25) to notice a fork: ~13 per manifest GET, 8% of its interpreter time at one client
    (py-spy, 2026-12-07). The id is kept here instead and renewed in a forked child, which is
    when prometheus-client looks for a change. Call before the first metric is made."""
    if not os.environ.get(ENV):
        return
    from prometheus_client import values

    os.register_at_fork(after_in_child=_refresh_pid)
    _refresh_pid()
    values.ValueClass = values.MultiProcessValue(process_identifier=_current_pid)
