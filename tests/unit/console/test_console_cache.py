"""The console's kept answers (catalog pages, names, repository summaries): fresh for ``ttl``,
then served while one background load refreshes them, and loaded anew once too old."""

from __future__ import annotations

import threading
import time

from services.console.inventory.store import TimedCache
from tests.integration.notifications.support import wait_until


class Loads:
    def __init__(self) -> None:
        self.count = 0
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def __call__(self) -> int:
        self.release.wait(5)
        self.count += 1
        if self.fail:
            raise RuntimeError("registry down")
        return self.count


def test_fresh_then_stale_while_refreshing_then_loaded_anew():
    cache, load = TimedCache(ttl=0.2, stale=1.0), Loads()
    assert cache.get(("k",), load) == 1
    assert cache.get(("k",), load) == 1 and load.count == 1  # fresh: no call
    time.sleep(0.25)
    load.release.clear()  # the refresh waits: the kept answer is served meanwhile
    assert cache.get(("k",), load) == 1
    assert cache.get(("k",), load) == 1  # one refresh at a time
    load.release.set()
    wait_until(lambda: cache.get(("k",), load) == 2, 5, "the background refresh")
    assert load.count == 2
    time.sleep(1.05)  # too old to serve: loaded while the caller waits
    assert cache.get(("k",), load) == 3


def test_a_failed_refresh_keeps_the_answer_until_it_is_too_old():
    cache, load = TimedCache(ttl=0.1, stale=0.6), Loads()
    assert cache.get(("k",), load) == 1
    time.sleep(0.15)
    load.fail = True
    assert cache.get(("k",), load) == 1
    wait_until(lambda: load.count == 2, 5, "the failed refresh")
    assert cache.get(("k",), load) == 1


def test_dropped_entries_are_loaded_again():
    cache, load = TimedCache(ttl=60), Loads()
    cache.get(("summary", "alice", "demo/app"), load)
    cache.get(("summary", "bob", "other"), load)
    cache.drop(lambda key: key[2] == "demo/app")
    assert cache.get(("summary", "alice", "demo/app"), load) == 3
    assert cache.get(("summary", "bob", "other"), load) == 2


def test_a_get_while_a_load_runs_ahead_waits_for_it_instead_of_loading_again():
    cache, load = TimedCache(ttl=60), Loads()
    load.release.clear()
    cache.load_ahead(("names", "alice"), load, progress="so far")
    assert cache.in_progress(("names", "alice")) == "so far"
    got: list[int] = []
    asker = threading.Thread(target=lambda: got.append(cache.get(("names", "alice"), load)))
    asker.start()
    time.sleep(0.1)
    assert not got  # waiting for the load ahead, not loading on its own
    load.release.set()
    asker.join(5)
    assert got == [1] and load.count == 1
    assert cache.in_progress(("names", "alice")) is None
    cache.load_ahead(("names", "alice"), load)  # kept: nothing to read ahead
    time.sleep(0.1)
    assert load.count == 1 and cache.get(("names", "alice"), load) == 1


def test_a_get_after_a_failed_load_ahead_loads_on_its_own():
    cache, load = TimedCache(ttl=60), Loads()
    load.fail = True
    cache.load_ahead(("names", "alice"), load)
    wait_until(lambda: cache.in_progress(("names", "alice")) is None and load.count == 1, 5,
               "the failed load ahead")
    load.fail = False
    assert cache.get(("names", "alice"), load) == 2


def test_a_get_reads_on_its_own_rather_than_wait_behind_other_loads():
    from services.console.inventory import store

    cache = TimedCache(ttl=60)
    busy = [Loads() for _ in range(store._refresher._max_workers)]
    load = Loads()
    try:
        for i, blocked in enumerate(busy):
            blocked.release.clear()
            cache.load_ahead(("names", f"user-{i}"), blocked)
        cache.load_ahead(("names", "alice"), load)  # queued: every loading thread is busy
        assert cache.get(("names", "alice"), load) == 1
    finally:
        for blocked in busy:
            blocked.release.set()
    wait_until(lambda: all(cache.in_progress(("names", f"user-{i}")) is None
                           for i in range(len(busy))), 5, "the other loads")
    assert load.count == 1 and cache.in_progress(("names", "alice")) is None


def test_a_load_ahead_read_by_a_get_instead_still_feeds_its_progress():
    from services.console.inventory import store

    cache = TimedCache(ttl=60)
    busy = [Loads() for _ in range(store._refresher._max_workers)]
    fed: list[str] = []

    def ahead() -> str:
        fed.append("read")
        return "names"

    try:
        for i, blocked in enumerate(busy):
            blocked.release.clear()
            cache.load_ahead(("names", f"user-{i}"), blocked)
        cache.load_ahead(("names", "alice"), ahead, progress=fed)
        assert cache.get(("names", "alice"), lambda: "another load") == "names"
        assert fed == ["read"]  # a follower of its progress sees the reading end
    finally:
        for blocked in busy:
            blocked.release.set()
