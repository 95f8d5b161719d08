"""Keeping freed request-body buffers in the process for the next ones.

A streamed upload arrives as ~1 MiB pieces, each a new ``bytes`` object freed a moment later.
With glibc's defaults a buffer that size is mapped fresh from the kernel and unmapped again, or
taken from a heap that is trimmed back as soon as it is free, so every piece lands in pages
the kernel must fault in and zero. On a virtual machine whose idle memory goes back to the
host, that fault costs more than the copy itself (measured here: gunicorn's body reader at
800-1400 MiB/s with the defaults, ~2700 MiB/s with the freed memory kept). Raising glibc's
mmap and trim thresholds keeps up to ``_TRIM_THRESHOLD`` of freed memory per heap, warm.

It only tunes glibc's allocator: elsewhere (musl, macOS) nothing changes, and an operator who
set glibc's own ``MALLOC_*`` variables or malloc tunables keeps them.
"""

from __future__ import annotations

import ctypes
import os

_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
# glibc's ceiling for the mmap threshold on 64-bit; allocations below it come from the heaps.
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 256 << 20
_OPERATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_buffers() -> bool:
    """Tune glibc's malloc so that freed body buffers are reused warm; True when it did. Call
    it in gunicorn's master, before the workers are forked: they inherit the setting."""
    if any(os.environ.get(name) for name in _OPERATOR_SETTINGS):
        return False
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
