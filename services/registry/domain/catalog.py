"""Listing repositories and paginating sorted lists (``n``/``last``), the reference's way."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from functools import partial

from services.registry.domain import layout
from services.registry.domain.errors import RegistryError
from services.registry.storage.driver import PathNotFound, StorageDriver

# A folder holding either is a repository. The reference (distribution 2.8) lists a folder as
# soon as it has ``_layers``, so a repository holding only blobs is listed; ``_manifests`` counts
# too so that no repository with content is ever left out. ``_uploads`` alone does not count:
# an upload that never finished puts nothing in the repository.
_REPOSITORY_MARKERS = ("_layers", "_manifests")


def repositories(driver: StorageDriver) -> list[str]:
    """Every repository with a ``_layers`` or ``_manifests`` folder, sorted."""
    return list(iter_repositories(driver))


def iter_repositories(driver: StorageDriver, after: str | None = None) -> Iterator[str]:
    """The repositories named after ``after`` (all without it), in lexical order, found as they
    are needed: a catalog page of ``n`` lists the folders up to its last name, not the whole
    tree (10,000 repositories: a whole walk for every page took most of a second).

    Names sort as strings, not as a tree (``a-b`` < ``a/x``, as ``-`` < ``/``), so the walk is
    a heap of paths: a folder is looked into when it is the smallest path known, and each of its
    names is larger than the folder's own, so every name comes out in order. A subtree wholly
    at or before ``after`` is never looked into. Folders starting with ``_`` are the registry's
    own and never part of a name.

    Each folder costs one listing and no stat: every driver raises ``PathNotFound`` listing a
    file, as it does for a folder deleted since its parent was listed. The whole walk is one
    ``Walk`` in the storage metrics, as the reference's catalog is."""
    return driver.walk_with(partial(_walk, after=after))


def _walk(driver: StorageDriver, after: str | None) -> Iterator[str]:
    pending = _children(driver, "", after)
    heapq.heapify(pending)
    while pending:
        name = heapq.heappop(pending)
        try:
            leaves = driver.list_names(f"{layout.REPOSITORIES}/{name}")
        except PathNotFound:
            continue
        if (after is None or name > after) and any(m in leaves for m in _REPOSITORY_MARKERS):
            yield name
        for child in _children(driver, name, after, leaves):
            heapq.heappush(pending, child)


def _children(driver: StorageDriver, name: str, after: str | None,
              leaves: list[str] | None = None) -> list[str]:
    """The names under ``name`` ("" for the top) whose subtrees may hold a name after
    ``after``."""
    if leaves is None:
        try:
            leaves = driver.list_names(layout.REPOSITORIES)
        except PathNotFound:
            return []
    found = []
    for leaf in leaves:
        if leaf.startswith("_"):
            continue
        child = f"{name}/{leaf}" if name else leaf
        # Its subtree holds ``child`` and names starting ``child/``: past ``after`` only if
        # ``child/`` sorts after it or ``after`` lies inside the subtree.
        if after is None or child + "/" > after or after.startswith(child + "/"):
            found.append(child)
    return found


def catalog_page(driver: StorageDriver, n: int | None, last: str | None
                 ) -> tuple[list[str], bool]:
    """The catalog's page after ``last`` of at most ``n`` names, and whether more follow."""
    names = iter_repositories(driver, after=last or None)
    if n is None:
        return list(names), False
    page = list(itertools.islice(names, n + 1))
    return page[:n], len(page) > n


def parse_n(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": value}) from None
    if n < 0:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": value})
    return n


def paginate(items: list[str], n: int | None, last: str | None) -> tuple[list[str], bool]:
    """The page after ``last`` of at most ``n`` items, and whether more follow."""
    if last:
        items = [i for i in items if i > last]
    if n is None:
        return items, False
    return items[:n], len(items) > n
