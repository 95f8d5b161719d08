"""The catalog and upload purging walk the repositories while other requests change them."""

from __future__ import annotations

from services.registry.domain import layout
from services.registry.domain.catalog import repositories
from services.registry.domain.purge import purge_uploads
from services.registry.storage.driver import PathNotFound
from services.registry.storage.inmemory import InMemoryDriver


class VanishingDriver(InMemoryDriver):
    """Lists ``gone`` folders, then finds them deleted: as if removed between the two calls."""

    def stat(self, path):
        if path.rsplit("/", 1)[-1] == "gone":
            raise PathNotFound(path)
        return super().stat(path)


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
