"""Parsed manifests are kept per process by digest, and never answer for a manifest another
process has deleted or re-tagged since: the links are read on every GET, the bytes only once."""

from __future__ import annotations

from collections import Counter

import pytest

from services.registry.cache import InMemoryBlobDescriptorCache
from services.registry.domain.errors import RegistryError
from services.registry.domain.manifest_cache import ParsedManifests
from services.registry.domain.manifests import Manifest
from services.registry.domain.registry import Registry
from services.registry.storage.inmemory import InMemoryDriver
from tests.unit.registry.registry_builders import OCI_MANIFEST, digest, image_manifest

CONFIG, LAYER = b'{"os":"linux"}', b"a layer"


class CountingDriver(InMemoryDriver):
    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def get_content(self, path: str) -> bytes:
        self.reads[path.rsplit("/", 1)[-1]] += 1
        return super().get_content(path)


@pytest.fixture
def two_workers():
    """Two registries on one storage, each with its own memory: two worker processes."""
    driver = CountingDriver()
    here = Registry(driver, InMemoryBlobDescriptorCache())
    there = Registry(driver, InMemoryBlobDescriptorCache())
    for blob in (CONFIG, LAYER):
        here.put_blob("team/a", digest(blob), [blob])
    return driver, here, there


def push(registry: Registry, tag: str, note: str) -> Manifest:
    content = image_manifest(CONFIG, [LAYER], annotations={"note": note})
    return registry.put_manifest("team/a", tag, content, OCI_MANIFEST)


def test_a_repeated_get_reads_the_links_but_not_the_bytes(two_workers):
    driver, here, there = two_workers
    pushed = push(here, "v1", "one")
    assert there.get_manifest("team/a", "v1").content == pushed.content
    driver.reads.clear()
    for _ in range(3):
        assert there.get_manifest("team/a", "v1").digest == pushed.digest
    assert driver.reads == Counter({"link": 6})  # tag and revision, each time; no "data"


def test_a_manifest_deleted_elsewhere_is_unknown_here(two_workers):
    _, here, there = two_workers
    pushed = push(here, "v1", "one")
    there.get_manifest("team/a", "v1")
    there.get_manifest("team/a", pushed.digest)
    here.delete_manifest("team/a", pushed.digest)
    for reference in ("v1", pushed.digest):
        with pytest.raises(RegistryError) as err:
            there.get_manifest("team/a", reference)
        assert err.value.code == "MANIFEST_UNKNOWN"


def test_a_tag_moved_elsewhere_answers_its_new_manifest(two_workers):
    _, here, there = two_workers
    push(here, "latest", "one")
    there.get_manifest("team/a", "latest")
    moved = push(here, "latest", "two")
    assert there.get_manifest("team/a", "latest").digest == moved.digest


def _manifest(n: int, size: int) -> Manifest:
    return Manifest(digest=f"sha256:{n:064x}", media_type=OCI_MANIFEST, content=b"x" * size)


def test_the_cache_keeps_the_most_recently_used_within_its_bounds():
    cache = ParsedManifests(max_entries=3, max_bytes=250)
    for n in range(3):
        cache.put(_manifest(n, 50))
    cache.get(_manifest(0, 50).digest)  # 0 used last: 1 goes first
    cache.put(_manifest(3, 50))
    assert [n for n in range(4) if cache.get(_manifest(n, 50).digest)] == [0, 2, 3]
    # Looked up in that order: 3 is now the most recent. Over the byte bound, the oldest go
    # until the rest fits (3 and 4: 250 bytes).
    cache.put(_manifest(4, 200))
    assert [n for n in range(5) if cache.get(_manifest(n, 50).digest)] == [3, 4]
    cache.put(_manifest(5, 251))  # larger than the whole cache: not kept
    assert cache.get(_manifest(5, 251).digest) is None
