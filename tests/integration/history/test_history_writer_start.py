"""The history's writer process outlives the signals that stop its notifier, even one that comes
while it starts: a notifier stopped as it started once ended with a traceback (BrokenPipeError),
its writer killed between its fork and its own session by the SIGTERM sent to the group."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from shared.config import EndpointConfig
from shared.history import HistoryStore, HistoryWriter
from shared.history import writer as writer_module
from shared.history.schema import deliveries
from tests.integration.history.test_history_store import settled
from tests.integration.notifications.support import make_event, wait_until


def test_a_stop_signal_while_the_writer_starts_does_not_end_it(tmp_path, monkeypatch):
    real_popen = subprocess.Popen

    def popen_signalled_in_the_window(*args, **kwargs):
        # Runs in the child after its fork, before the writer's interpreter: the moment a
        # SIGTERM to the notifier's process group reaches it.
        return real_popen(*args, preexec_fn=lambda: os.kill(os.getpid(), signal.SIGTERM),
                          **kwargs)

    monkeypatch.setattr(writer_module.subprocess, "Popen", popen_signalled_in_the_window)
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    store.ready()
    writer = HistoryWriter(store, [EndpointConfig(name="hook", url="http://x/")], retention=3600)
    writer.start()
    process = writer._process
    os.kill(process.pid, signal.SIGINT)  # and one sent after it started
    time.sleep(0.5)
    assert process.poll() is None, "the writer process ended on a stop signal"

    writer.record(settled(make_event().to_dict(), time.time()))

    def written() -> int:
        with store.begin() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar()

    wait_until(lambda: written() == 1, timeout=10)
    writer.close()
    assert process.returncode == 0
    store.close()


def test_a_writer_that_keeps_dying_young_is_restarted_ever_more_slowly(tmp_path, monkeypatch,
                                                                          caplog):
    # One that can never start (a broken install, killed for memory at once) was restarted at
    # every hand-over, ten Python start-ups a second.
    real_popen = subprocess.Popen
    started: list[float] = []

    def popen_counted(*args, **kwargs):
        started.append(time.monotonic())
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(writer_module.subprocess, "Popen", popen_counted)
    monkeypatch.setattr(writer_module, "writer_command",
                        lambda fd: [sys.executable, "-S", "-c", "raise SystemExit(3)"])
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    writer = HistoryWriter(store, [EndpointConfig(name="hook", url="http://x/")], retention=3600)
    caplog.set_level(logging.ERROR, logger="notifier.history")
    writer.start()
    time.sleep(4.0)
    began = time.monotonic()
    writer.close()
    assert time.monotonic() - began < 1.0, "close() waited out a restart's wait"
    # Started at 0, then about 1 s and 3 s later (waits of 1 and 2 s), not every 0.1 s.
    assert 3 <= len(started) <= 4, started
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    waits = [r.getMessage() for r in caplog.records if "restarting it" in r.getMessage()]
    assert "restart_in=1s" in waits[0] and "restart_in=2s" in waits[1], waits
    store.close()


def test_a_writer_that_lived_long_is_restarted_at_once_and_the_wait_starts_over():
    writer = HistoryWriter(HistoryStore("sqlite://"), [], retention=3600)
    now = time.monotonic()
    writer._spawned = now
    assert [writer._next_restart_wait() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    writer._spawned = now - writer_module.LIVED_LONG
    assert writer._next_restart_wait() == 0
    writer._spawned = time.monotonic()
    assert writer._next_restart_wait() == 1
