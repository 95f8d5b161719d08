"""Durability on local disk."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def fsync_directory(path: str | os.PathLike) -> None:
    """Make a rename or a new file in ``path`` survive a power loss (the file's own fsync
    does not cover its name in the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _find_sync_file_range() -> Any:
    """Linux's ``sync_file_range(fd, offset, nbytes, flags)``, or None where libc lacks it."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_sync_file_range = _find_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2  # start writing the range out; do not wait for it


def start_writeback(fd: int, offset: int = 0, nbytes: int = 0) -> None:
    """Ask the kernel to start writing a file's range to disk (``nbytes`` 0: to its end), not
    waiting for it: a later fsync then has less left to wait for. Only a head start: it does
    nothing where Linux's ``sync_file_range`` is missing, and a failure surfaces in the fsync."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


class _Syncs:
    """Files of one group synced at once when this process syncs nothing else.

    On ext4 without a journal (this machine's root) each fsync writes its file's inode and the
    new directories above it and flushes the disk's cache: one after the other, a tagged
    manifest's four files waited for four flushes in a row. Issued together from threads they
    overlap (measured on 2026-12-07, one writer: ~1.3 ms -> ~1.07 ms per group of four). With
    other groups already syncing the disk has its queue full anyway, and the hand-offs to the
    threads only cost CPU (eight writers: ~1180 -> ~930 groups/s), so then the files are synced
    on the caller's thread, one after the other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def _helpers(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pid != os.getpid():  # a forked worker starts its own
            self._pool, self._pid = ThreadPoolExecutor(3, "fsync"), os.getpid()
        return self._pool

    def sync(self, fds: Sequence[int]) -> None:
        with self._lock:
            alone = self._active == 0
            self._active += 1
            helpers = self._helpers() if alone and len(fds) > 1 else None
        try:
            if helpers is None:
                for fd in fds:
                    os.fsync(fd)
                return
            others = [helpers.submit(os.fsync, fd) for fd in fds[1:]]
            error: BaseException | None = None
            try:
                os.fsync(fds[0])
            except BaseException as exc:  # wait for the others before raising: they use the fds
                error = exc
            for other in others:
                try:
                    other.result()
                except BaseException as exc:
                    error = error or exc
            if error is not None:
                raise error
        finally:
            with self._lock:
                self._active -= 1


_syncs = _Syncs()


def fsync_together(fds: Sequence[int]) -> None:
    """fsync every file of ``fds``; raises the first error once all are done."""
    _syncs.sync(fds)
