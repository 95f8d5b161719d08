"""The catalog and upload purging walk the repositories while other requests change them."""

from __future__ import annotations

from services.registry.domain import layout
from services.registry.domain.catalog import catalog_page, repositories
from services.registry.domain.purge import purge_uploads
from services.registry.storage.driver import PathNotFound
from services.registry.storage.inmemory import InMemoryDriver


class VanishingDriver(InMemoryDriver):
    """Lists ``gone`` folders, then finds them deleted: as if removed between the two calls."""

    def stat(self, path):
        if path.rsplit("/", 1)[-1] == "gone":
            raise PathNotFound(path)
        return super().stat(path)

    def list(self, path):
        if path.rsplit("/", 1)[-1] == "gone":
            raise PathNotFound(path)
        return super().list(path)


def test_a_repository_deleted_while_listed_is_left_out():
    driver = VanishingDriver()
    for name in ("kept", "gone", "team/gone", "team/app"):
        driver.put_content(f"{layout.REPOSITORIES}/{name}/_manifests/tags/v1/current/link", b"x")
    assert repositories(driver) == ["kept", "team/app"]


def test_purging_goes_on_past_a_repository_deleted_while_listed():
    driver = VanishingDriver()
    driver.put_content(f"{layout.REPOSITORIES}/gone/_uploads/u1/startedat", b"2020-01-01T00:00:00Z")
    driver.put_content(f"{layout.REPOSITORIES}/old/_uploads/u2/startedat", b"2020-01-01T00:00:00Z")
    assert purge_uploads(driver, 3600) == [f"{layout.REPOSITORIES}/old/_uploads/u2"]


# Names whose lexical order is not the tree's: '-' and '.' sort before '/'.
TRICKY = ["a", "a-b", "a.c/d", "a/x", "a/x-1", "a/x/y", "ab", "b/c/d/e", "b0", "z"]


class CountingDriver(InMemoryDriver):
    def __init__(self):
        super().__init__()
        self.listed = 0
        self.stats = 0

    def list(self, path):
        self.listed += 1
        return super().list(path)

    def stat(self, path):
        self.stats += 1
        return super().stat(path)


def repository_tree(names: list[str]) -> CountingDriver:
    driver = CountingDriver()
    for name in names:
        driver.put_content(f"{layout.REPOSITORIES}/{name}/_layers/sha256/ab/link", b"x")
    driver.put_content(f"{layout.REPOSITORIES}/a/_uploads/u1/startedat", b"x")  # not a name
    return driver


def test_every_page_of_the_catalog_is_in_lexical_order_whatever_the_tree():
    driver = repository_tree(TRICKY)
    assert repositories(driver) == sorted(TRICKY)
    for n in (1, 2, 3, len(TRICKY)):
        for last in [None, "", *TRICKY, "a/", "a/x/z", "zz"]:
            expected = [name for name in sorted(TRICKY) if not last or name > last]
            assert catalog_page(driver, n, last) == (expected[:n], len(expected) > n), (n, last)


def test_a_catalog_page_lists_the_folders_up_to_its_last_name_only():
    driver = repository_tree([f"team{t}/app{i:03}" for t in range(4) for i in range(250)])
    driver.listed = 0
    page, more = catalog_page(driver, 5, None)
    assert page == [f"team0/app{i:03}" for i in range(5)] and more
    # About the top, team0, and the six repositories looked at (five, and one saying "more"),
    # where the whole tree is 1,005 folders.
    assert driver.listed <= 10
    driver.listed = 0
    page, more = catalog_page(driver, 5, "team2/app100")
    assert page == [f"team2/app{i:03}" for i in range(101, 106)] and more
    assert driver.listed <= 10  # team0, team1 and the names up to app100 are never listed


def test_a_folder_costs_the_walk_one_listing_and_a_file_in_the_tree_is_no_repository():
    # On S3 a stat is a request of its own; on a filesystem, a third of the walk's time.
    driver = repository_tree(["a/x", "a/y", "b"])
    driver.put_content(f"{layout.REPOSITORIES}/a/README", b"not a repository")
    driver.put_content(f"{layout.REPOSITORIES}/notes.txt", b"nor this")
    driver.listed = driver.stats = 0
    assert repositories(driver) == ["a/x", "a/y", "b"]
    assert driver.stats == 0
