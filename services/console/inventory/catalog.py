"""The repository list: the catalog a page at a time, or searched by name, each repository with
its tag count, size and last push.

The registry's catalog can be large (10,000 repositories and more), so a request never asks it
for everything nor fetches every repository's tags: browsing asks for one catalog page
(``?n=&last=``), searching reads the names (in pages of 1,000), and only the repositories shown
get a summary (tags and size). All three are kept (:class:`TimedCache`: 30 s, then refreshed in
the background while served), per user: the registry decides what each user may list. Last
pushes come from the delivery history, one query per page.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from services.console.history import History
from services.console.inventory.images import repository_size
from services.console.inventory.store import ContentCache, TimedCache, pool
from services.console.registry.client import RegistryCalls, RegistryError

PER_PAGE = 25


@dataclass(frozen=True)
class RepositorySummary:
    name: str
    tags: int
    size: int | None  # None: the registry refused to tell (e.g. no pull right on it)
    last_push: str | None  # from the delivery history (RFC 3339), when it has one


@dataclass(frozen=True)
class RepositoryPage:
    query: str
    last: str  # the page starts after this name ("" for the first)
    next: str | None  # the ``last`` of the next page
    total: int | None  # matching names (searches only: browsing never counts the catalog)
    items: tuple[RepositorySummary, ...]


def _summary(calls: RegistryCalls, cache: ContentCache, summaries: TimedCache,
             name: str) -> RepositorySummary:
    def load() -> RepositorySummary:
        try:
            tags = calls.tags(name)
            size: int | None = repository_size(calls, cache, name, tags)
        except RegistryError:
            tags, size = [], None
        return RepositorySummary(name=name, tags=len(tags), size=size, last_push=None)

    return summaries.get(("summary", calls.user, name), load)


def forget(summaries: TimedCache, repository: str) -> None:
    """A tag of ``repository`` changed through the console: every user's summary of it goes."""
    summaries.drop(lambda key: key[0] == "summary" and key[2] == repository)


def _read_names(calls: RegistryCalls, arriving: Callable[[str], None] | None = None
                ) -> Callable[[], list[str]]:
    def load() -> list[str]:
        names = []
        for name in calls.repositories():
            names.append(name)
            if arriving is not None:
                arriving(name)
        return sorted(names)

    return load


def _names(calls: RegistryCalls, summaries: TimedCache,
           arriving: Callable[[str], None] | None = None) -> list[str]:
    """Every name the user may list, sorted (a page starts after ``last`` by bisection).
    ``arriving`` sees each name as the registry's pages bring it, when they are read now."""
    return summaries.get(("names", calls.user), _read_names(calls, arriving))


class _NameFeed:
    """The names a reading in the background has brought so far, passed on to whoever follows
    it: a search that finds its user's names being read starts the summaries of its matches as
    they arrive, as when it reads the names itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[str] = []
        self._followers: list[Callable[[str], None]] = []

    def __call__(self, name: str) -> None:
        with self._lock:  # held while followers see it: each sees every name once, in order
            self._seen.append(name)
            for follower in self._followers:
                follower(name)

    def follow(self, follower: Callable[[str], None]) -> None:
        with self._lock:
            for name in self._seen:
                follower(name)
            self._followers.append(follower)


def read_names_ahead(calls: RegistryCalls, summaries: TimedCache) -> None:
    """Start reading every name the user may list, in the background, unless kept: called at
    sign-in and by the repository list, so that a first search finds them read. A search needs
    every name, and reading them is a walk of the registry's whole storage (10,000
    repositories: ten catalog pages, a quarter of a second)."""
    feed = _NameFeed()
    summaries.load_ahead(("names", calls.user), _read_names(calls, feed), progress=feed)


def _matches(name: str, needle: str) -> bool:
    """Whether a search for ``needle`` (lowered) finds ``name``: any part of it, any case."""
    return needle in name.lower()


class _EarlySummaries:
    """The summaries of a search's first matches, started while the rest of the catalog is
    still being read: the catalog comes in lexical order, so the first ``per_page`` matches
    after ``last`` are known long before its last page (10,000 repositories: ten pages, ~0.2 s),
    and their tags and sizes are read meanwhile instead of after."""

    def __init__(self, load: Callable[[str], Future], needle: str, last: str, per_page: int):
        self._load = load
        self._needle = needle
        self._last = last
        self._per_page = per_page
        self.started: dict[str, Future] = {}
        self.reading = True  # a background refresh of the names, later, starts nothing

    def __call__(self, name: str) -> None:
        if (self.reading and len(self.started) < self._per_page and name > self._last
                and name not in self.started and _matches(name, self._needle)):
            self.started[name] = self._load(name)


def _browse(calls: RegistryCalls, summaries: TimedCache, last: str,
            per_page: int) -> tuple[list[str], str | None]:
    return summaries.get(("page", calls.user, last, per_page),
                         lambda: calls.catalog_page(per_page, last or None))


def search(calls: RegistryCalls, cache: ContentCache, summaries: TimedCache, history: History,
           query: str = "", last: str = "", per_page: int = PER_PAGE) -> RepositoryPage:
    """A page of repositories by name, after ``last``; with ``query``, those whose name
    contains it (any case)."""
    def summary(name: str) -> Future:
        return pool().submit(_summary, calls, cache, summaries, name)

    needle = query.strip().lower()
    total: int | None = None
    early: dict[str, Future] = {}
    if needle:
        arriving = _EarlySummaries(summary, needle, last, per_page)
        feed = summaries.in_progress(("names", calls.user))
        if feed is not None:  # being read since the sign-in: its names so far, and the rest
            feed.follow(arriving)
        try:
            names = _names(calls, summaries, arriving)
        finally:
            arriving.reading = False
        early = arriving.started
        matched = [n for n in names if _matches(n, needle)]
        total = len(matched)
        start = bisect.bisect_right(matched, last) if last else 0
        shown = matched[start:start + per_page]
        following = shown[-1] if start + per_page < len(matched) else None
    else:
        shown, following = _browse(calls, summaries, last, per_page)
        read_names_ahead(calls, summaries)  # for the search box above the list
    futures = [early.get(n) or summary(n) for n in shown]
    items = [f.result() for f in futures]
    pushed = history.last_pushes_or_none(shown) or {}
    items = [RepositorySummary(s.name, s.tags, s.size, pushed.get(s.name)) for s in items]
    return RepositoryPage(query=query, last=last, next=following, total=total, items=tuple(items))
