"""Writing every byte to a file descriptor: ``os.write`` may write fewer than it is given."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes) -> None:
    """Write ``data`` whole to ``fd``, however many calls that takes."""
    with memoryview(data) as view:
        while view:
            view = view[os.write(fd, view):]
