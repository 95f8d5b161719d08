"""A blob descriptor cache entry never outlives the blob's link in storage: another process
(a worker with its own ``inmemory`` cache, a replica) may have deleted it. Checking costs one
storage stat per cached read."""

from __future__ import annotations

from collections import Counter

import pytest

from services.registry.cache import InMemoryBlobDescriptorCache
from services.registry.domain.errors import RegistryError
from services.registry.domain.registry import Registry
from services.registry.storage.inmemory import InMemoryDriver
from tests.unit.registry.registry_builders import digest

DATA = b"a layer"


class CountingDriver(InMemoryDriver):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def get_content(self, path: str) -> bytes:
        self.calls["get_content"] += 1
        return super().get_content(path)

    def stat(self, path: str):  # noqa: ANN201
        self.calls["stat"] += 1
        return super().stat(path)


@pytest.fixture
def two_processes():
    """Two registries on one storage, each with its own cache: two workers."""
    driver = CountingDriver()
    here = Registry(driver, InMemoryBlobDescriptorCache())
    there = Registry(driver, InMemoryBlobDescriptorCache())
    here.put_blob("team/a", digest(DATA), [DATA])
    there.stat_blob("team/a", digest(DATA))  # now in both caches
    return driver, here, there


def test_a_cached_blob_deleted_elsewhere_is_unknown_and_not_mountable(two_processes):
    _, here, there = two_processes
    here.delete_blob("team/a", digest(DATA))
    for call in (there.stat_blob, there.open_blob, there.delete_blob):
        with pytest.raises(RegistryError) as err:
            call("team/a", digest(DATA))
        assert err.value.code == "BLOB_UNKNOWN"
    assert there.mount_blob("team/c", digest(DATA), "team/a") is None
    with pytest.raises(RegistryError):
        there.stat_blob("team/c", digest(DATA))


def test_a_cached_read_costs_one_stat(two_processes):
    driver, _, there = two_processes
    driver.calls.clear()
    desc = there.stat_blob("team/a", digest(DATA))
    assert desc.size == len(DATA)
    assert driver.calls == Counter({"stat": 1})
