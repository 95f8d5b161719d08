"""Listing repositories and paginating sorted lists (``n``/``last``), the reference's way."""

from __future__ import annotations

from services.registry.domain import layout
from services.registry.domain.errors import RegistryError
from services.registry.storage.driver import PathNotFound, StorageDriver

# A folder holding either is a repository. The reference (distribution 2.8) lists a folder as
# soon as it has ``_layers``, so a repository holding only blobs is listed; ``_manifests`` counts
# too so that no repository with content is ever left out. ``_uploads`` alone does not count:
# an upload that never finished puts nothing in the repository.
_REPOSITORY_MARKERS = ("_layers", "_manifests")


def is_directory(driver: StorageDriver, path: str) -> bool:
    """False too for what was deleted since its folder was listed (a repository being
    deleted, an upload being finished): a listing must not fail on it."""
    try:
        return driver.stat(path).is_dir
    except PathNotFound:
        return False


def repositories(driver: StorageDriver) -> list[str]:
    """Every repository with a ``_layers`` or ``_manifests`` folder, sorted. Folders starting
    with ``_`` are the registry's own and never part of a name."""
    found: list[str] = []
    prefix = layout.REPOSITORIES + "/"

    def visit(path: str) -> None:
        try:
            children = driver.list(path)
        except PathNotFound:
            return
        leaves = [child.rsplit("/", 1)[-1] for child in children]
        if path != layout.REPOSITORIES and any(m in leaves for m in _REPOSITORY_MARKERS):
            found.append(path[len(prefix):])
        for child, leaf in zip(children, leaves, strict=True):
            if not leaf.startswith("_") and is_directory(driver, child):
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
