"""A search needs every name in the catalog (its total counts them), read in the background from
the sign-in on: a search made meanwhile has its first page once that page's matches (and one
more) have arrived, without a total, and the summaries of the matches it shows start as soon as
those matches arrive."""

from __future__ import annotations

import threading

import pytest

from services.console.inventory.catalog import search
from services.console.inventory.names import read_ahead
from services.console.inventory.store import ContentCache, TimedCache
from services.console.registry.client import RegistryError
from tests.integration.notifications.support import wait_until

NAMES = [f"team-{t:03d}/app-{a:02d}" for t in range(40) for a in range(100)]


class Catalog:
    """The registry's catalog, page by page; the last page waits (up to 5 s) until the first
    match's tags were asked for, and until ``last_page`` is set."""

    def __init__(self) -> None:
        self.user = "reader"
        self.first_tags = threading.Event()
        self.last_page = threading.Event()
        self.last_page.set()
        self.overlapped = False
        self.tags_asked: list[str] = []
        self.readings = 0

    def repositories(self):
        self.readings += 1
        for start in range(0, len(NAMES), 1000):
            if start + 1000 >= len(NAMES):
                self.overlapped = self.first_tags.wait(5)
                self.last_page.wait(5)
            yield from NAMES[start:start + 1000]

    def tags(self, name: str) -> list[str]:
        self.tags_asked.append(name)
        self.first_tags.set()
        raise RegistryError(403)  # no pull right: a summary without a size, no manifest read


class NoHistory:
    def last_pushes_or_none(self, names):
        return {}


def test_a_first_search_has_its_page_before_the_last_catalog_page_then_its_total():
    calls, summaries = Catalog(), TimedCache()
    calls.last_page.clear()  # the catalog's last page comes only once the search has answered
    page = search(calls, ContentCache(), summaries, NoHistory(), query="APP-42", per_page=25)
    calls.last_page.set()
    assert [s.name for s in page.items] == [f"team-{t:03d}/app-42" for t in range(25)]
    assert page.next == "team-024/app-42"
    assert page.total is None  # the rest of the catalog is still being read
    assert sorted(calls.tags_asked) == [s.name for s in page.items]  # each once, none more
    wait_until(lambda: summaries.in_progress(("names", "reader")) is None, 10, "the reading")
    assert calls.overlapped  # the last catalog page came after the first summary was asked for
    again = search(calls, ContentCache(), summaries, NoHistory(), query="app-42", per_page=25)
    assert again.total == 40 and again.next == "team-024/app-42"
    assert calls.readings == 1


def test_a_page_after_last_waits_for_every_name_and_starts_its_summaries_meanwhile():
    calls = Catalog()
    page = search(calls, ContentCache(), TimedCache(), NoHistory(), query="app-42",
                  last="team-024/app-42", per_page=25)
    assert calls.overlapped  # its 15 matches' summaries started before the last catalog page
    assert [s.name for s in page.items] == [f"team-{t:03d}/app-42" for t in range(25, 40)]
    assert page.next is None and page.total == 40
    assert sorted(calls.tags_asked) == [s.name for s in page.items]


def test_a_search_while_the_names_are_read_ahead_joins_that_reading():
    calls, summaries = Catalog(), TimedCache()
    read_ahead(calls, summaries)  # as the sign-in does
    page = search(calls, ContentCache(), summaries, NoHistory(), query="app-42", per_page=25)
    assert [s.name for s in page.items] == [f"team-{t:03d}/app-42" for t in range(25)]
    assert sorted(calls.tags_asked) == [s.name for s in page.items]
    wait_until(lambda: summaries.in_progress(("names", "reader")) is None, 10, "the reading")
    assert calls.readings == 1  # the catalog read once, not again by the search


def test_a_search_the_registry_refuses_is_refused_not_empty():
    class Refused(Catalog):
        def repositories(self):
            self.readings += 1
            raise RegistryError(403, "DENIED")
            yield  # a generator, as the client's

    calls = Refused()
    with pytest.raises(RegistryError) as refused:
        search(calls, ContentCache(), TimedCache(), NoHistory(), query="app", per_page=25)
    assert refused.value.status == 403


class Browsing(Catalog):
    def catalog_page(self, n, last=None):
        start = NAMES.index(last) + 1 if last else 0
        return NAMES[start:start + n], NAMES[start + n - 1]


def test_the_repository_list_reads_every_name_ahead_for_its_search_box():
    calls, summaries = Browsing(), TimedCache()
    calls.first_tags.set()
    search(calls, ContentCache(), summaries, NoHistory(), per_page=25)
    wait_until(lambda: summaries.in_progress(("names", "reader")) is None
               and calls.readings == 1, 5, "the names read ahead")
    search(calls, ContentCache(), summaries, NoHistory(), query="app-42", per_page=25)
    assert calls.readings == 1  # the search found them read
