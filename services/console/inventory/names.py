"""Every repository name a user may list: read from the registry's catalog in the background,
then kept (:class:`TimedCache`, per user: the registry decides what each user may list).

A search needs them all (its matches may be anywhere in the catalog, and it counts them), and
reading them is a walk of the registry's whole storage (10,000 repositories: ten catalog pages,
a quarter of a second). So the repository list starts reading them for its search box, and a
search that comes while they are still being read (or starts their reading) follows it: it has
its first page as soon as that page's matches (and one more, so it knows a next page exists)
have arrived, without waiting for the rest, and the summaries of those matches start as they
arrive. Not at sign-in: the walk, in the background, slowed the first pages a person sees after
signing in (often not the repositories), and a user who never searches would cost one walk of
the registry's storage every few minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from services.console.inventory.store import TimedCache
from services.console.registry.client import RegistryCalls


def _key(calls: RegistryCalls) -> tuple:
    return ("names", calls.user)


class NameFeed:
    """The names a reading has brought so far, passed on to whoever follows it, in the order
    they arrive (the catalog's: lexical), and whether the reading has ended."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._seen: list[str] = []
        self._followers: list[Callable[[str], None]] = []
        self.ended = False

    def __call__(self, name: str) -> None:
        with self._changed:  # held while followers see it: each sees every name once, in order
            self._seen.append(name)
            for follower in self._followers:
                follower(name)
            self._changed.notify_all()

    def end(self) -> None:
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def follow(self, follower: Callable[[str], None]) -> None:
        with self._changed:
            for name in self._seen:
                follower(name)
            self._followers.append(follower)

    def wait(self, enough: Callable[[], bool]) -> None:
        """Until ``enough()`` or the reading ended (each catalog call has its timeout)."""
        with self._changed:
            self._changed.wait_for(lambda: self.ended or enough())


def _reading(calls: RegistryCalls, feed: NameFeed) -> Callable[[], list[str]]:
    def load() -> list[str]:
        names = []
        try:
            for name in calls.repositories():
                names.append(name)
                feed(name)
        finally:
            feed.end()
        return sorted(names)

    return load


def read_ahead(calls: RegistryCalls, summaries: TimedCache) -> None:
    """Start reading every name the user may list, in the background, unless kept or being read."""
    feed = NameFeed()
    summaries.load_ahead(_key(calls), _reading(calls, feed), progress=feed)


def kept_names(calls: RegistryCalls, summaries: TimedCache) -> list[str] | None:
    """The names, sorted, if kept (None if not: nothing is read)."""
    return summaries.kept(_key(calls), _reading(calls, NameFeed()))


def all_names(calls: RegistryCalls, summaries: TimedCache) -> list[str]:
    """The names, sorted: kept, or waited for, or read now (a failed reading raises here)."""
    return summaries.get(_key(calls), _reading(calls, NameFeed()))


class FirstMatches:
    """A search's first page, from the names as they arrive: the first ``per_page`` matches
    after ``last``, and one more if there is one; each one's summary started on arrival."""

    def __init__(self, matches: Callable[[str], bool], last: str, per_page: int,
                 start: Callable[[str], Future]):
        self._matches = matches
        self._last = last
        self._per_page = per_page
        self._start = start
        self.names: list[str] = []
        self.started: dict[str, Future] = {}
        self.complete = False  # every name was read: the caller may count the matches

    @property
    def enough(self) -> bool:
        return len(self.names) > self._per_page

    def __call__(self, name: str) -> None:
        if not self.enough and name > self._last and self._matches(name):
            self.names.append(name)
            if len(self.names) <= self._per_page:
                self.started[name] = self._start(name)


def first_matches(calls: RegistryCalls, summaries: TimedCache, matches: Callable[[str], bool],
                  last: str, per_page: int, start: Callable[[str], Future]) -> FirstMatches:
    """Follow the reading of the names (started now if none runs) until a page of matches after
    ``last`` and one more have arrived, or every name has."""
    read_ahead(calls, summaries)
    first = FirstMatches(matches, last, per_page, start)
    feed = summaries.in_progress(_key(calls))
    if feed is None:  # read (or failed) since: the caller asks for every name
        first.complete = True
        return first
    feed.follow(first)
    feed.wait(lambda: first.enough)
    first.complete = feed.ended
    return first
