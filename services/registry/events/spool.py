"""The local on-disk spool: where events wait, in order, while the broker is unreachable.

One file per event, named by wall-clock nanoseconds so a sorted listing is publication order
across every worker process sharing the folder. A file is written under a temporary name,
fsync'd, then renamed into place: an entry is either whole or absent, and durable once
:meth:`Spool.append` returns. Only one process flushes at a time (an ``flock`` on ``.lock``), so
two workers never publish the same entry twice.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.fsync import fsync_directory

SUFFIX = ".event"


class Spool:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count()

    def append(self, routing_key: str, payload: dict[str, Any]) -> Path:
        """Write one event durably; returns once it is on disk."""
        name = f"{time.time_ns():020d}-{os.getpid():08d}-{next(self._counter):010d}{SUFFIX}"
        final = self.directory / name
        temporary = self.directory / f".tmp-{name}"
        data = json.dumps({"routing_key": routing_key, "event": payload}).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, final)
        fsync_directory(self.directory)
        return final

    def pending(self) -> bool:
        with os.scandir(self.directory) as entries:
            return any(e.name.endswith(SUFFIX) and not e.name.startswith(".") for e in entries)

    def entries(self) -> list[Path]:
        """Spooled events, oldest first."""
        return sorted(
            self.directory / n for n in os.listdir(self.directory)
            if n.endswith(SUFFIX) and not n.startswith(".")
        )

    def depth(self) -> int:
        return len(self.entries())

    @staticmethod
    def read(path: Path) -> tuple[str, dict[str, Any]]:
        record = json.loads(path.read_bytes())
        return record["routing_key"], record["event"]

    @staticmethod
    def remove(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    @contextmanager
    def flushing(self) -> Iterator[bool]:
        """Yields True if this process may flush now (no other process is flushing)."""
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
