"""The Redis blob descriptor cache against real Redis servers: the reference's keys, and a
registry that keeps answering (from storage) while Redis is away, saying so once in its log."""

from __future__ import annotations

import logging
import subprocess
import time
import uuid

import pytest
import redis

from services.registry.cache import Descriptor, build_cache
from services.registry.cache.redis_cache import RedisBlobDescriptorCache
from services.registry.metrics import CACHE_ERRORS, CACHE_HITS, CACHE_REQUESTS
from shared.config import RedisConfig, parse_config
from tests.conftest import free_port, start_private_redis

pytestmark = pytest.mark.integration

LOGGER = "services.registry.cache.redis_cache"
DOWN = "blob descriptor cache unavailable, serving from storage"
UP = "blob descriptor cache available again"


def digest() -> str:
    return "sha256:" + uuid.uuid4().hex * 2


@pytest.fixture
def raw(redis_addr: str) -> redis.Redis:
    host, port = redis_addr.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port), db=5)
    yield client
    client.flushdb()  # db 5 is these tests' own: the machine's Redis keeps nothing of them
    client.close()


@pytest.fixture
def cache(redis_addr: str) -> RedisBlobDescriptorCache:
    config = parse_config({
        "storage": {"filesystem": {"rootdirectory": "/tmp/unused"},
                    "cache": {"blobdescriptor": "redis"}},
        "redis": {"addr": redis_addr, "db": 5, "dialtimeout": "500ms", "readtimeout": "1s",
                  "pool": {"maxactive": 4}},
    })
    built = build_cache(config)
    assert isinstance(built, RedisBlobDescriptorCache)
    yield built
    built.close()


def test_keys_match_the_reference(cache: RedisBlobDescriptorCache, raw: redis.Redis):
    dg = digest()
    repo = f"library/{uuid.uuid4().hex[:8]}"
    cache.set_repository_member(repo, Descriptor(dg, 1234, "application/vnd.oci.image.layer.v1.tar"))
    assert raw.hgetall(f"blobs::{dg}") == {
        b"digest": dg.encode(), b"size": b"1234",
        b"mediatype": b"application/vnd.oci.image.layer.v1.tar"}
    assert raw.smembers(f"repository::{repo}::blobs") == {dg.encode()}
    assert raw.hgetall(f"repository::{repo}::blobs::{dg}") == {
        b"mediatype": b"application/vnd.oci.image.layer.v1.tar"}

    cache.delete_repository_member(repo, dg)
    assert raw.smembers(f"repository::{repo}::blobs") == set()
    assert not raw.exists(f"repository::{repo}::blobs::{dg}")
    cache.delete(dg)
    assert not raw.exists(f"blobs::{dg}")


def test_reads_what_the_reference_wrote(cache: RedisBlobDescriptorCache, raw: redis.Redis):
    """Both registries can share one Redis: entries written in the reference's shape are read."""
    dg, repo = digest(), f"r{uuid.uuid4().hex[:8]}"
    raw.hset(f"blobs::{dg}", mapping={"digest": dg, "size": 42, "mediatype": "type/global"})
    raw.sadd(f"repository::{repo}::blobs", dg)
    raw.hset(f"repository::{repo}::blobs::{dg}", "mediatype", "type/repo")
    assert cache.get(dg) == Descriptor(dg, 42, "type/global")
    assert cache.is_repository_member(repo, dg) is True
    assert cache.is_repository_member("other", dg) is None
    assert cache.get_repository_descriptor(repo, dg) == Descriptor(dg, 42, "type/repo")


def test_first_media_type_stays_global(cache: RedisBlobDescriptorCache):
    dg = digest()
    cache.set_repository_member("a", Descriptor(dg, 5, "type/a"))
    cache.set_repository_member("b", Descriptor(dg, 5, "type/b"))
    assert cache.get(dg).media_type == "type/a"
    assert cache.get_repository_descriptor("b", dg).media_type == "type/b"


def test_counts_requests_and_hits(cache: RedisBlobDescriptorCache):
    dg = digest()
    requests, hits = CACHE_REQUESTS._value.get(), CACHE_HITS._value.get()
    assert cache.get(dg) is None
    cache.set(Descriptor(dg, 1, "t"))
    assert cache.get(dg) == Descriptor(dg, 1, "t")
    assert CACHE_REQUESTS._value.get() - requests == 2
    assert CACHE_HITS._value.get() - hits == 1


def test_closed_port_degrades_to_miss_and_logs_once(caplog: pytest.LogCaptureFixture):
    port = free_port()
    cache = RedisBlobDescriptorCache.from_config(
        RedisConfig(addrs=(f"127.0.0.1:{port}",), dialtimeout=0.5, readtimeout=0.5),
        retry_interval=60)
    errors = CACHE_ERRORS._value.get()
    caplog.set_level(logging.INFO, logger=LOGGER)
    started = time.monotonic()
    for _ in range(50):
        dg = digest()
        cache.set(Descriptor(dg, 1, "t"))
        assert cache.get(dg) is None
        assert cache.is_repository_member("r", dg) is None
        cache.delete(dg)
    assert time.monotonic() - started < 5  # an outage costs no per-request timeouts
    warnings = [r for r in caplog.records if DOWN in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "cache=redis" in warnings[0].getMessage() and "error=" in warnings[0].getMessage()
    assert CACHE_ERRORS._value.get() - errors == 1  # only the first call reached the dead port
    assert not cache.available


def _start_redis(port: int) -> subprocess.Popen:
    return start_private_redis(port, "--save", "", "--appendonly", "no")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)


def test_redis_stops_and_comes_back(caplog: pytest.LogCaptureFixture):
    port = free_port()
    proc = _start_redis(port)
    cache = RedisBlobDescriptorCache.from_config(
        RedisConfig(addrs=(f"127.0.0.1:{port}",), dialtimeout=0.5, readtimeout=0.5),
        retry_interval=0.3)
    caplog.set_level(logging.INFO, logger=LOGGER)
    try:
        dg = digest()
        cache.set_repository_member("r", Descriptor(dg, 7, "t"))
        assert cache.get(dg) == Descriptor(dg, 7, "t")

        _stop(proc)
        for _ in range(20):  # keeps answering, as misses, for longer than a retry interval
            assert cache.get(dg) is None
            assert cache.is_repository_member("r", dg) is None
            time.sleep(0.05)
        assert not cache.available

        proc = _start_redis(port)  # a fresh, empty server on the same address
        time.sleep(0.35)
        cache.set(Descriptor(dg, 7, "t"))  # the first call after the interval probes and heals
        assert cache.available
        assert cache.get(dg) == Descriptor(dg, 7, "t")

        messages = [r.getMessage() for r in caplog.records]
        assert sum(DOWN in m for m in messages) == 1
        assert sum(UP in m for m in messages) == 1
        assert messages.index(next(m for m in messages if DOWN in m)) < messages.index(
            next(m for m in messages if UP in m))
    finally:
        cache.close()
        if proc.poll() is None:
            _stop(proc)



def test_redis_error_reply_is_a_miss_not_an_outage(cache: RedisBlobDescriptorCache,
                                                   raw: redis.Redis,
                                                   caplog: pytest.LogCaptureFixture):
    dg = digest()
    raw.set(f"blobs::{dg}", "not a hash")  # WRONGTYPE for HMGET
    caplog.set_level(logging.INFO, logger=LOGGER)
    errors = CACHE_ERRORS._value.get()
    assert cache.get(dg) is None
    assert CACHE_ERRORS._value.get() - errors == 1
    assert cache.available and DOWN not in caplog.text
    raw.delete(f"blobs::{dg}")
