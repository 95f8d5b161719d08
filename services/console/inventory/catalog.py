"""The repository list: the catalog a page at a time, or searched by name, each repository with
its tag count, size and last push.

The registry's catalog can be large (10,000 repositories and more), so a request never asks it
for everything nor fetches every repository's tags: browsing asks for one catalog page
(``?n=&last=``), searching reads the names (in pages of 1,000), and only the repositories shown
get a summary (tags and size). All three are kept (:class:`TimedCache`: 30 s, then refreshed in
the background while served), per user: the registry decides what each user may list. Last
pushes come from the delivery history, one query per page. A search whose names are still
being read (:mod:`services.console.inventory.names`) shows its first page without a total.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from services.console.history import History
from services.console.inventory.images import repository_size
from services.console.inventory.names import all_names, first_matches, kept_names, read_ahead
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


def _matches(name: str, needle: str) -> bool:
    """Whether a search for ``needle`` (lowered) finds ``name``: any part of it, any case."""
    return needle in name.lower()


def _browse(calls: RegistryCalls, summaries: TimedCache, last: str,
            per_page: int) -> tuple[list[str], str | None]:
    return summaries.get(("page", calls.user, last, per_page),
                         lambda: calls.catalog_page(per_page, last or None))


def _found(calls: RegistryCalls, summaries: TimedCache, needle: str, last: str, per_page: int,
           summary: Callable[[str], Future]
           ) -> tuple[list[str], str | None, int | None, dict[str, Future]]:
    """A search's page of names after ``last``, the ``last`` of the next, the count of every
    match (None while the names are still read), and the summaries already started."""
    def matches(name: str) -> bool:
        return _matches(name, needle)

    names = kept_names(calls, summaries)
    early: dict[str, Future] = {}
    if names is None:  # being read: the first page needs only the first matches
        first = first_matches(calls, summaries, matches, last, per_page, summary)
        early = first.started
        if not first.complete:
            shown = first.names[:per_page]
            return shown, shown[-1] if len(first.names) > per_page else None, None, early
        names = all_names(calls, summaries)
    matched = [n for n in names if matches(n)]
    start = bisect.bisect_right(matched, last) if last else 0
    shown = matched[start:start + per_page]
    following = shown[-1] if start + per_page < len(matched) else None
    return shown, following, len(matched), early


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
        shown, following, total, early = _found(calls, summaries, needle, last, per_page,
                                                summary)
    else:
        shown, following = _browse(calls, summaries, last, per_page)
    futures = [early.get(n) or summary(n) for n in shown]
    items = [f.result() for f in futures]
    if not needle:  # for the search box above the list; once this page is read, not beside it
        read_ahead(calls, summaries)
    pushed = history.last_pushes_or_none(shown) or {}
    items = [RepositorySummary(s.name, s.tags, s.size, pushed.get(s.name)) for s in items]
    return RepositoryPage(query=query, last=last, next=following, total=total, items=tuple(items))
