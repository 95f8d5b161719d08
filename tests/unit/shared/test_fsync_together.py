"""A group of files is synced together: every file, on helper threads when nothing else syncs
in the process and on the caller's thread when something does; an error is raised once every
sync of the group has returned (the caller closes the descriptors next)."""

from __future__ import annotations

import threading

import pytest

from shared import fsync


@pytest.fixture
def synced(monkeypatch):
    """(descriptor, thread name) of every fsync; descriptor 13 fails."""
    calls: list[tuple[int, str]] = []
    lock = threading.Lock()

    def record(fd: int) -> None:
        with lock:
            calls.append((fd, threading.current_thread().name))
        if fd == 13:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsync.os, "fsync", record)
    monkeypatch.setattr(fsync, "_syncs", fsync._Syncs())
    return calls


def test_alone_the_files_are_synced_at_once_on_helper_threads(synced):
    fsync.fsync_together([10, 11, 12, 14])
    assert sorted(fd for fd, _ in synced) == [10, 11, 12, 14]
    helpers = {name for _, name in synced if name != threading.current_thread().name}
    assert helpers and all(name.startswith("fsync") for name in helpers)


def test_beside_another_group_they_are_synced_on_the_callers_thread(synced, monkeypatch):
    inside = threading.Event()
    release = threading.Event()
    real = fsync.os.fsync

    def slow(fd: int) -> None:
        if fd == 1:
            inside.set()
            release.wait(5)
        real(fd)

    monkeypatch.setattr(fsync.os, "fsync", slow)
    first = threading.Thread(target=fsync.fsync_together, args=([1],))
    first.start()
    try:
        assert inside.wait(5)
        fsync.fsync_together([20, 21, 22])
    finally:
        release.set()
        first.join(5)
    mine = [name for fd, name in synced if fd in (20, 21, 22)]
    assert mine == [threading.current_thread().name] * 3


def test_an_error_is_raised_after_every_sync_returned(synced):
    with pytest.raises(OSError):
        fsync.fsync_together([13, 15, 16])
    assert sorted(fd for fd, _ in synced) == [13, 15, 16]
    with pytest.raises(OSError):
        fsync.fsync_together([15, 13])
    assert sorted(fd for fd, _ in synced) == [13, 13, 15, 15, 16]

