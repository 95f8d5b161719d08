"""The registry's local spool: durable entries in order, one flusher at a time across
processes."""

from __future__ import annotations

import multiprocessing
import os

from services.registry.events.spool import Spool


def test_entries_come_back_in_append_order(tmp_path):
    spool = Spool(tmp_path / "spool")
    for i in range(50):
        spool.append("manifest.push", {"n": i})
    assert [spool.read(p)[1]["n"] for p in spool.entries()] == list(range(50))
    assert spool.pending() and spool.depth() == 50
    for path in spool.entries():
        spool.remove(path)
    assert not spool.pending()


def test_a_half_written_entry_is_never_seen(tmp_path):
    spool = Spool(tmp_path / "spool")
    (spool.directory / ".tmp-00000000000000000001-x.event").write_bytes(b'{"routing_')
    assert not spool.pending()
    assert spool.entries() == []


def _try_flush(directory, result):
    with Spool(directory).flushing() as mine:
        result.put(mine)


def test_only_one_process_flushes_at_a_time(tmp_path):
    spool = Spool(tmp_path / "spool")
    result = multiprocessing.get_context("fork").Queue()
    with spool.flushing() as mine:
        assert mine
        other = multiprocessing.get_context("fork").Process(
            target=_try_flush, args=(spool.directory, result))
        other.start()
        other.join(10)
        assert result.get(timeout=5) is False
    other = multiprocessing.get_context("fork").Process(
        target=_try_flush, args=(spool.directory, result))
    other.start()
    other.join(10)
    assert result.get(timeout=5) is True
    assert os.listdir(spool.directory) == [".lock"]
