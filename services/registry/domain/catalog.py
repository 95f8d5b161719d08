"""Listing repositories and paginating sorted lists (``n``/``last``), the reference's way."""

from __future__ import annotations

from services.registry.domain import layout
from services.registry.domain.errors import RegistryError
from services.registry.storage.driver import PathNotFound, StorageDriver


def repositories(driver: StorageDriver) -> list[str]:
    """Every repository with a ``_manifests`` folder, sorted. Folders starting with ``_`` are
    the registry's own and never part of a name."""
    found: list[str] = []
    prefix = layout.REPOSITORIES + "/"

    def visit(path: str) -> None:
        try:
            children = driver.list(path)
        except PathNotFound:
            return
        for child in children:
            leaf = child.rsplit("/", 1)[-1]
            if leaf == "_manifests":
                found.append(path[len(prefix):])
            elif not leaf.startswith("_") and driver.stat(child).is_dir:
                visit(child)

    visit(layout.REPOSITORIES)
    return sorted(found)


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
