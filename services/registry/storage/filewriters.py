"""How the filesystem driver writes a blob's bytes: through the page cache, with the disk
writing while the body still arrives.

A blob just pushed is usually pulled soon (CI pushes, the deploy pulls): written through the
page cache, that first pull is served from memory by ``sendfile``. Writing past the cache
(``O_DIRECT``, which this driver did until 2026-12-07) made the upload faster on a virtual
machine whose idle memory goes back to the host, where each new page of cache costs a fault to
the host, but then the first pull read the disk: 307-385 MiB/s against the reference's
1050-1539 from its cache, the same run. The kernel's own page-cache aging keeps hot blobs
cached as well as writing past it did. Measured figures: benchmarks/README.md.

Every ``_WRITEBACK_STEP`` bytes the writer asks the kernel to start writing them to disk
(``sync_file_range``, not waiting), so the fsync in :meth:`BufferedFileWriter.commit`, which
every blob passes before it is visible, has little left to wait for.
"""

from __future__ import annotations

import os

from services.registry.storage.driver import FileWriter
from shared.fsync import start_writeback

_WRITEBACK_STEP = 8 << 20


def open_writer(full: str, append: bool) -> FileWriter:
    """A writer for ``full``, appending to it or starting it anew."""
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return BufferedFileWriter(full, append)


class BufferedFileWriter(FileWriter):
    """Appends in place: an upload's size is always the data file's size, which another
    process sharing the root can read. :meth:`cancel` truncates back to where this writer began,
    so a failed chunk leaves the file as it was (without the early writeback, ~0.1 s of a
    256 MiB upload's ~0.4 s was the final fsync's wait, measured here)."""

    def __init__(self, full: str, append: bool):
        self._file = open(full, "ab" if append else "wb")  # noqa: SIM115 - closed in close()
        self._start = self._file.tell()
        self._size = self._start
        self._written_back = self._start

    def write(self, data: bytes) -> int:
        n = self._file.write(data)
        self._size += n
        if self._size - self._written_back >= _WRITEBACK_STEP:
            self._start_writeback()
        return n

    def _start_writeback(self) -> None:
        self._file.flush()  # the bytes must be in the kernel to be written out
        start_writeback(self._file.fileno(), self._written_back, self._size - self._written_back)
        self._written_back = self._size

    @property
    def size(self) -> int:
        return self._size

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def cancel(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.truncate(self._start)
            self._size = self._start

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
