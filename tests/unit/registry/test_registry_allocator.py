"""The allocator tuning of ``registry serve``: freed body buffers stay in the process, warm.

Each case runs in a fresh interpreter, since the tuning is process-wide and only visible on a
process that has not yet seen large allocations."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = r"""
import ctypes, json, sys
from services.registry.allocator import keep_freed_buffers

FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
          "fordblks", "keepcost")
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2

tuned = keep_freed_buffers() if sys.argv[1] == "tune" else None
before = libc.mallinfo2()
pieces = [b"x" * (4 << 20) for _ in range(4)]  # what a streamed body's pieces look like
during = libc.mallinfo2()
del pieces
after = libc.mallinfo2()
print(json.dumps({"tuned": tuned, "mapped": during.hblks - before.hblks,
                  "kept_free": after.fordblks - before.fordblks}))
"""


def _glibc_with_mallinfo2() -> bool:
    try:
        ctypes.CDLL(None).mallinfo2  # noqa: B018 - glibc 2.33 and later
    except (OSError, AttributeError):
        return False
    return True


@pytest.fixture(autouse=True)
def _glibc() -> None:
    # What is tuned is glibc's malloc, on the Debian the image and CI run: elsewhere the tuning
    # is a no-op and these probes cannot read the allocator, which is a failure, not a skip.
    if not _glibc_with_mallinfo2():
        pytest.fail("these tests read glibc's allocator: they need glibc 2.33 or later")


def _probe(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_untuned_large_buffers_are_mapped_and_handed_back():
    # The control: what the tuning changes, so the next test can fail.
    seen = _probe("leave")
    assert seen["mapped"] == 4
    assert seen["kept_free"] < 4 << 20


def test_tuned_large_buffers_come_from_the_heap_and_stay_for_reuse():
    seen = _probe("tune")
    assert seen["tuned"] is True
    assert seen["mapped"] == 0
    assert seen["kept_free"] >= 16 << 20


def test_an_operators_malloc_settings_win():
    seen = _probe("tune", MALLOC_TRIM_THRESHOLD_="131072")
    assert seen["tuned"] is False
    seen = _probe("tune", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072")
    assert seen["tuned"] is False
    assert seen["mapped"] == 4
