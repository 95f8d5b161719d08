"""The in-memory blob descriptor cache: bounds, eviction order, membership, threads."""

from __future__ import annotations

import threading

from services.registry.cache import Descriptor, InMemoryBlobDescriptorCache, build_cache
from services.registry.cache.memory import LRU
from services.registry.metrics import CACHE_HITS, CACHE_REQUESTS
from shared.config import parse_config

OCTET = "application/octet-stream"


def d(n: int, media_type: str = OCTET) -> Descriptor:
    return Descriptor(f"sha256:{n:064x}", n, media_type)


def test_get_set_delete():
    cache = InMemoryBlobDescriptorCache(10)
    assert cache.get(d(1).digest) is None
    cache.set(d(1))
    assert cache.get(d(1).digest) == d(1)
    cache.delete(d(1).digest)
    assert cache.get(d(1).digest) is None
    cache.delete(d(1).digest)  # deleting what is not there is fine


def test_bounded_evicts_least_recently_used():
    cache = InMemoryBlobDescriptorCache(3)
    for n in (1, 2, 3):
        cache.set(d(n))
    assert cache.get(d(1).digest) == d(1)  # 1 is now the most recently used
    cache.set(d(4))
    assert cache.get(d(2).digest) is None  # 2 was the least recently used
    assert [cache.get(d(n).digest) for n in (1, 3, 4)] == [d(1), d(3), d(4)]
    assert len(cache.descriptors) == 3


def test_zero_size_is_unbounded():
    cache = InMemoryBlobDescriptorCache(0)
    for n in range(5000):
        cache.set(d(n))
    assert len(cache.descriptors) == 5000
    assert cache.get(d(0).digest) == d(0)


def test_membership_is_per_repository_and_never_negative():
    cache = InMemoryBlobDescriptorCache(10)
    cache.set_repository_member("library/a", d(1, "application/vnd.oci.image.layer.v1.tar"))
    assert cache.is_repository_member("library/a", d(1).digest) is True
    assert cache.is_repository_member("library/b", d(1).digest) is None
    assert cache.get(d(1).digest) is not None  # membership also records the descriptor
    cache.delete_repository_member("library/a", d(1).digest)
    assert cache.is_repository_member("library/a", d(1).digest) is None
    assert cache.get(d(1).digest) is not None  # the blob itself is still known


def test_repository_keeps_its_own_media_type():
    cache = InMemoryBlobDescriptorCache(10)
    cache.set_repository_member("a", d(1, "type/a"))
    cache.set_repository_member("b", d(1, "type/b"))
    assert cache.get_repository_descriptor("a", d(1).digest).media_type == "type/a"
    assert cache.get_repository_descriptor("b", d(1).digest).media_type == "type/b"
    assert cache.get_repository_descriptor("c", d(1).digest) is None


def test_membership_bounded_too():
    cache = InMemoryBlobDescriptorCache(2)
    for n in (1, 2, 3):
        cache.set_repository_member("r", d(n))
    assert cache.is_repository_member("r", d(1).digest) is None
    assert cache.is_repository_member("r", d(3).digest) is True


def test_counts_requests_and_hits():
    cache = InMemoryBlobDescriptorCache(10)
    requests, hits = CACHE_REQUESTS._value.get(), CACHE_HITS._value.get()
    cache.set(d(1))
    cache.get(d(1).digest)
    cache.get(d(2).digest)
    assert CACHE_REQUESTS._value.get() - requests == 2
    assert CACHE_HITS._value.get() - hits == 1


def test_lru_is_thread_safe():
    lru: LRU[int, int] = LRU(100)

    def hammer(base: int) -> None:
        for i in range(2000):
            lru.put(base + i, i)
            lru.get(base + i // 2)
            if i % 7 == 0:
                lru.pop(base + i - 3)

    threads = [threading.Thread(target=hammer, args=(t * 10000,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) <= 100


def test_build_cache_from_config():
    base = {"storage": {"filesystem": {"rootdirectory": "/tmp/x"}}}
    assert build_cache(parse_config(base)) is None
    cfg = parse_config({"storage": {**base["storage"],
                                    "cache": {"blobdescriptor": "inmemory",
                                              "blobdescriptorsize": 7}}})
    cache = build_cache(cfg)
    assert isinstance(cache, InMemoryBlobDescriptorCache)
    assert cache.descriptors.capacity == 7


def test_redis_client_options_from_config():
    from services.registry.cache.redis_cache import client_from_config
    from shared.config import RedisConfig

    client = client_from_config(RedisConfig(addrs=("cache.example:6380",), username="u",
                                            password="p", db=3, dialtimeout=0.25,
                                            readtimeout=1.5, writetimeout=2.0, maxactive=7))
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example", 6380, 3)
    assert (kwargs["username"], kwargs["password"]) == ("u", "p")
    assert kwargs["socket_connect_timeout"] == 0.25
    assert kwargs["socket_timeout"] == 2.0  # one timeout both ways: the longer
    assert pool.max_connections == 7
    defaults = client_from_config(RedisConfig(addrs=("redis",))).connection_pool
    assert (defaults.connection_kwargs["host"], defaults.connection_kwargs["port"]) == \
        ("redis", 6379)
    assert defaults.connection_kwargs["socket_connect_timeout"] == 5.0
    assert defaults.connection_kwargs["socket_timeout"] == 3.0
