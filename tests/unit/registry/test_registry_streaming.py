"""Storing a streamed body: hashing and writing overlap the reading, and stay in order."""

import hashlib
import os
import subprocess

import pytest

from services.registry.domain import streaming
from services.registry.domain.streaming import OVERLAP_FROM, hash_and_write
from services.registry.storage import filesystem, filewriters
from services.registry.storage.filesystem import FilesystemDriver
from services.registry.storage.filewriters import BufferedFileWriter


class ListWriter:
    def __init__(self, fail_at: int | None = None):
        self.pieces: list[bytes] = []
        self.fail_at = fail_at

    def write(self, data: bytes) -> int:
        if self.fail_at is not None and len(self.pieces) == self.fail_at:
            raise OSError(28, "No space left on device")
        self.pieces.append(data)
        return len(data)


def pieces(n: int, size: int = 1000) -> list[bytes]:
    return [os.urandom(size) for _ in range(n)]


@pytest.mark.parametrize("size_hint", [None, OVERLAP_FROM, 10])
def test_every_piece_is_written_and_hashed_in_order(size_hint):
    body = pieces(200)
    writer, h = ListWriter(), hashlib.sha256()
    assert hash_and_write(iter(body), writer, h, size_hint) == 200 * 1000
    assert writer.pieces == body
    assert h.hexdigest() == hashlib.sha256(b"".join(body)).hexdigest()


def test_a_failed_write_stops_the_reading():
    read = []

    def body():
        for piece in pieces(1000):
            read.append(piece)
            yield piece

    with pytest.raises(OSError):
        hash_and_write(body(), ListWriter(fail_at=3), hashlib.sha256())
    # Reading stopped a few pieces after the failure, not at the end of the body.
    assert len(read) <= 3 + 2 * streaming._PIECES_IN_FLIGHT


def test_a_broken_body_raises_after_the_pieces_read_are_stored():
    good = pieces(10)

    def body():
        yield from good
        raise ConnectionError("client went away")

    writer = ListWriter()
    with pytest.raises(ConnectionError):
        hash_and_write(body(), writer, None)
    assert writer.pieces == good  # all stored before the caller sees the error (and truncates)


def test_the_buffered_writer_starts_writeback_and_keeps_every_byte(tmp_path, monkeypatch):
    ranges = []
    real = filewriters.start_writeback

    def recording(fd, offset, nbytes):
        ranges.append((offset, nbytes))
        real(fd, offset, nbytes)

    monkeypatch.setattr(filewriters, "_WRITEBACK_STEP", 4096)
    monkeypatch.setattr(filewriters, "start_writeback", recording)
    data = os.urandom(3000 * 10)
    with BufferedFileWriter(str(tmp_path / "f"), append=False) as w:
        for i in range(0, len(data), 3000):
            w.write(data[i:i + 3000])
        w.commit()
    assert (tmp_path / "f").read_bytes() == data
    # Consecutive ranges from the start, each once.
    assert ranges[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in zip(ranges, ranges[1:], strict=False))
    assert sum(n for _, n in ranges) <= len(data)


def test_move_syncs_the_directories_that_now_hold_the_blob(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(filesystem, "fsync_directory", synced.append)
    driver = FilesystemDriver(str(tmp_path))
    driver.put_content("/up/data", b"blob")
    driver.move("/up/data", "/blobs/sha256/ab/abcd/data")
    root = str(tmp_path)
    # The new name's directory, and the parent of each directory created for it.
    assert sorted(synced) == sorted([
        f"{root}/blobs/sha256/ab/abcd", f"{root}/blobs/sha256/ab", f"{root}/blobs/sha256",
        f"{root}/blobs", root])
    assert driver.get_content("/blobs/sha256/ab/abcd/data") == b"blob"


def _resident_bytes(path) -> int:
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def test_a_committed_blob_stays_in_the_page_cache_for_the_pull_that_follows(tmp_path):
    """The first GET after a push is served from memory: the writer goes through the page
    cache (an O_DIRECT writer left only the last partial block there)."""
    data = os.urandom((4 << 20) + 100)
    writer = filewriters.open_writer(str(tmp_path / "blob"), append=False)
    with writer:
        for i in range(0, len(data), 1 << 20):
            writer.write(data[i:i + (1 << 20)])
        writer.commit()
    resident = _resident_bytes(tmp_path / "blob")  # before anything reads the file
    assert (tmp_path / "blob").read_bytes() == data
    assert resident >= len(data) - 4096
