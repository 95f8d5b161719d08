"""Durability on local disk."""

from __future__ import annotations

import ctypes
import os
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
