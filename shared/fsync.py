"""Durability on local disk."""

from __future__ import annotations

import os


def fsync_directory(path: str | os.PathLike) -> None:
    """Make a rename or a new file in ``path`` survive a power loss (the file's own fsync
    does not cover its name in the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
