"""prometheus-client's multiprocess values are told this process's id from memory, and a forked
child (a gunicorn worker) tells its own: its samples go to its own files, as with os.getpid."""

from __future__ import annotations

import os

from shared import metrics


def test_a_forked_child_has_its_own_process_id(monkeypatch, tmp_path):
    monkeypatch.setenv(metrics.ENV, str(tmp_path))
    from prometheus_client import values

    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # restored afterwards
    metrics.cache_process_id()
    assert metrics._current_pid() == os.getpid()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports and exits
        os.write(write_end, str(metrics._current_pid()).encode())
        os._exit(0)
    os.close(write_end)
    reported = int(os.read(read_end, 32))
    os.waitpid(child, 0)
    os.close(read_end)
    assert reported == child != os.getpid()
    assert metrics._current_pid() == os.getpid()
