"""The filesystem driver writes blob bytes past the page cache (O_DIRECT) in whole blocks, the
last partial block through the cache, and keeps the writer contract: every byte in order, an
append continues the file, cancel truncates back, close keeps what was written."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from services.registry.storage import filewriters
from services.registry.storage.filewriters import (
    BufferedFileWriter,
    DirectFileWriter,
    open_writer,
)

STAGE = 4 * 4096


@pytest.fixture
def small_stages(monkeypatch):
    """Staging buffers of four blocks, so a few KiB cross several direct writes."""
    monkeypatch.setattr(filewriters, "_stages", filewriters._StagePool(STAGE))


@pytest.fixture
def pwrites(monkeypatch):
    """Every pwrite of the writers: (O_DIRECT set on the descriptor, offset, length)."""
    seen = []
    real = os.pwrite

    def recording(fd, data, offset):
        direct = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)
        seen.append((direct, offset, len(data)))
        return real(fd, data, offset)

    monkeypatch.setattr(filewriters.os, "pwrite", recording)
    return seen


def write_in_pieces(writer, data: bytes, piece: int) -> None:
    for i in range(0, len(data), piece):
        writer.write(data[i:i + piece])


def test_whole_blocks_go_direct_and_only_the_tail_through_the_cache(tmp_path, small_stages,
                                                                      pwrites):
    data = os.urandom(3 * STAGE + 5000)
    path = str(tmp_path / "blob")
    with open_writer(path, append=False) as w:
        assert isinstance(w, DirectFileWriter)
        write_in_pieces(w, data, 3000)  # pieces that straddle the stage's edges
        assert w.size == len(data)
        w.commit()
    assert open(path, "rb").read() == data
    assert pwrites == [(True, 0, STAGE), (True, STAGE, STAGE), (True, 2 * STAGE, STAGE),
                       (False, 3 * STAGE, 5000)]


def test_a_body_of_whole_blocks_is_written_direct_to_its_end(tmp_path, small_stages, pwrites):
    data = os.urandom(STAGE + 2 * 4096)
    path = str(tmp_path / "blob")
    with open_writer(path, append=False) as w:
        w.write(data)
        w.commit()
    assert open(path, "rb").read() == data
    assert pwrites == [(True, 0, STAGE), (True, STAGE, 2 * 4096)]


def test_an_append_continues_the_file_direct_when_it_ends_on_a_block(tmp_path, small_stages,
                                                                      pwrites):
    path = str(tmp_path / "blob")
    first, second, third = os.urandom(2 * 4096), os.urandom(STAGE + 100), os.urandom(7000)
    for chunk in (first, second, third):
        with open_writer(path, append=True) as w:
            w.write(chunk)
            w.commit()
    assert open(path, "rb").read() == first + second + third
    # The second chunk left the file off a block boundary: the third went through the cache.
    assert pwrites == [(True, 0, 2 * 4096), (True, 2 * 4096, STAGE),
                       (False, 2 * 4096 + STAGE, 100)]
    with open_writer(path, append=True) as w:
        assert isinstance(w, BufferedFileWriter)


def test_cancel_truncates_back_to_where_the_writer_began(tmp_path, small_stages):
    path = str(tmp_path / "blob")
    kept = os.urandom(4096)
    with open_writer(path, append=True) as w:
        w.write(kept)
        w.commit()
    w = open_writer(path, append=True)
    write_in_pieces(w, os.urandom(3 * STAGE), 5000)  # some of it already in the file
    w.cancel()
    assert w.size == 4096
    w.close()
    assert open(path, "rb").read() == kept


def test_close_without_commit_keeps_what_was_written(tmp_path, small_stages):
    path = str(tmp_path / "blob")
    data = os.urandom(STAGE + 1234)
    w = open_writer(path, append=False)
    w.write(data)
    w.close()
    w.close()  # twice is harmless
    assert open(path, "rb").read() == data


def test_a_filesystem_refusing_o_direct_gets_the_buffered_writer(tmp_path, monkeypatch):
    real = os.open

    def no_direct(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(path, flags, *args)

    monkeypatch.setattr(filewriters.os, "open", no_direct)
    path = str(tmp_path / "blob")
    data = os.urandom(10000)
    with open_writer(path, append=False) as w:
        assert isinstance(w, BufferedFileWriter)
        w.write(data)
        w.commit()
    assert open(path, "rb").read() == data


def test_staging_buffers_are_reused(tmp_path, small_stages):
    path = str(tmp_path / "blob")
    with open_writer(path, append=False) as w:
        first = w._stage
    with open_writer(path, append=False) as w:
        assert w._stage is first


def test_a_direct_write_refused_after_the_open_is_written_through_the_cache(tmp_path,
                                                                             small_stages,
                                                                             monkeypatch):
    real = os.pwrite
    seen = []

    def refuse_direct(fd, data, offset):
        direct = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)
        seen.append(direct)
        if direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(filewriters.os, "pwrite", refuse_direct)
    path = str(tmp_path / "blob")
    data = os.urandom(2 * STAGE + 10)
    with open_writer(path, append=False) as w:
        w.write(data)
        w.commit()
    assert open(path, "rb").read() == data
    assert seen == [True, False, False, False]  # refused once, then buffered to the end
