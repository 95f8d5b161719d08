"""The repository list: the catalog searched by name, a page at a time, each repository with
its tag count, size and last push."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from services.console.history import History
from services.console.inventory.images import repository_size
from services.console.inventory.store import ContentCache, pool
from services.console.registry.client import RegistryCalls, RegistryError

PER_PAGE = 25


@dataclass(frozen=True)
class RepositorySummary:
    name: str
    tags: int
    size: int | None  # None: the registry refused to tell (e.g. no pull right on it)
    last_push: datetime | None  # from the delivery history, when there is one


@dataclass(frozen=True)
class RepositoryPage:
    query: str
    page: int
    pages: int
    total: int
    items: tuple[RepositorySummary, ...]


def _summary(calls: RegistryCalls, cache: ContentCache, history: History,
             name: str) -> RepositorySummary:
    try:
        tags = calls.tags(name)
        size: int | None = repository_size(calls, cache, name, tags)
    except RegistryError:
        tags, size = [], None
    return RepositorySummary(name=name, tags=len(tags), size=size,
                             last_push=history.last_push(name))


def search(calls: RegistryCalls, cache: ContentCache, history: History, query: str = "",
           page: int = 1, per_page: int = PER_PAGE) -> RepositoryPage:
    """Repositories whose name contains ``query`` (any case), by name, one page of them."""
    names = calls.repositories()
    needle = query.strip().lower()
    matched = [n for n in names if needle in n.lower()] if needle else names
    pages = max(1, math.ceil(len(matched) / per_page))
    page = min(max(page, 1), pages)
    shown = matched[(page - 1) * per_page: page * per_page]
    items = tuple(pool().map(lambda n: _summary(calls, cache, history, n), shown))
    return RepositoryPage(query=query, page=page, pages=pages, total=len(matched), items=items)
