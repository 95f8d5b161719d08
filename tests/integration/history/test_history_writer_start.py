"""The history's writer process outlives the signals that stop its notifier, even one that comes
while it starts: a notifier stopped as it started once ended with a traceback (BrokenPipeError),
its writer killed between its fork and its own session by the SIGTERM sent to the group."""

from __future__ import annotations

import os
import signal
import subprocess
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
