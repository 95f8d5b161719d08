"""The ``redis`` blob descriptor cache, with the reference registry's keys so both can share
one Redis:

- ``blobs::<digest>``: hash {digest, size, mediatype}
- ``repository::<repo>::blobs``: set of digests the repository links
- ``repository::<repo>::blobs::<digest>``: hash {mediatype}, the repository's own media type

A cache must never take the registry down: every Redis error becomes a miss (or a skipped
write). When Redis goes away one WARNING line says so; requests then skip Redis entirely until
``retry_interval`` has passed, when a single request probes it again (so an outage costs no
per-request timeouts); one INFO line says when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode
from redis.retry import Retry

from services.registry.cache.base import BlobDescriptorCache
from services.registry.domain.descriptors import Descriptor
from services.registry.metrics import CACHE_ERRORS, CACHE_HITS, CACHE_REDIS, CACHE_REQUESTS
from shared.config import RedisConfig
from shared.logfmt import kv

log = logging.getLogger(__name__)

T = TypeVar("T")

# go-redis's defaults, which the reference's users tuned their configs against.
DEFAULT_DIAL_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 3.0
RETRY_INTERVAL = 5.0


def descriptor_key(digest: str) -> str:
    return f"blobs::{digest}"


def repository_set_key(repo: str) -> str:
    return f"repository::{repo}::blobs"


def repository_descriptor_key(repo: str, digest: str) -> str:
    return f"repository::{repo}::blobs::{digest}"


def _host_port(addr: str) -> tuple[str, int]:
    addr = addr.split("://", 1)[-1]
    host, _, port = addr.rpartition(":")
    if not host:  # "redis" alone: the default port
        return port, 6379
    return host.strip("[]"), int(port)


def client_from_config(config: RedisConfig) -> redis.Redis | redis.RedisCluster:
    """A redis-py client configured as go-redis would be from the same keys: several
    ``addrs`` mean a cluster (go-redis's UniversalClient rule), one a single server."""
    # redis-py has one socket timeout for both directions: the longer of the two.
    given = [t for t in (config.readtimeout, config.writetimeout) if t is not None]
    socket_timeout = max(given or [DEFAULT_READ_TIMEOUT])
    common = dict(
        username=config.username,
        password=config.password,
        socket_connect_timeout=config.dialtimeout or DEFAULT_DIAL_TIMEOUT,
        socket_timeout=socket_timeout,
        # One immediate retry absorbs a connection the server closed while idle; anything
        # longer is the outage logic's job, not a per-request stall.
        retry=Retry(NoBackoff(), 1),
        ssl=config.tls,
    )
    if len(config.addrs) > 1:
        nodes = [ClusterNode(*_host_port(a)) for a in config.addrs]
        return redis.RedisCluster(startup_nodes=nodes, **common)
    host, port = _host_port(config.addrs[0])
    return redis.Redis(host=host, port=port, db=config.db,
                       max_connections=config.maxactive or None, **common)


# The operation label of registry_storage_cache_redis_seconds: the reference's names.
OPERATIONS = ("Stat", "SetDescriptor", "Clear")


class RedisBlobDescriptorCache(BlobDescriptorCache):
    kind = "redis"

    def __init__(self, client: redis.Redis | redis.RedisCluster,
                 retry_interval: float = RETRY_INTERVAL):
        self.client = client
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._available = True
        self._retry_at = 0.0
        self._probing = False
        # Exported at 0 from the start, so rate() and increase() see the first calls too.
        for operation in OPERATIONS:
            CACHE_REDIS.labels(operation)

    @classmethod
    def from_config(cls, config: RedisConfig, retry_interval: float = RETRY_INTERVAL
                    ) -> RedisBlobDescriptorCache:
        return cls(client_from_config(config), retry_interval)

    # ------------------------------------------------------------ availability

    @property
    def available(self) -> bool:
        return self._available

    def _may_call(self) -> bool:
        """While Redis is down, only one caller per ``retry_interval`` tries it."""
        if self._available:
            return True
        with self._lock:
            if self._probing or time.monotonic() < self._retry_at:
                return False
            self._probing = True
            return True

    def _succeeded(self) -> None:
        if self._available:
            return
        with self._lock:
            was_down = not self._available
            self._available, self._probing = True, False
        if was_down:
            log.info(kv("blob descriptor cache available again", cache="redis"))

    def _failed(self, exc: Exception) -> None:
        CACHE_ERRORS.inc()
        if not isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            # Redis answered, with an error (a key of the wrong type, say): it is reachable,
            # so this is a miss, not an outage.
            log.debug(kv("blob descriptor cache error", cache="redis", error=exc))
            self._succeeded()
            return
        with self._lock:
            went_down = self._available
            self._available, self._probing = False, False
            self._retry_at = time.monotonic() + self.retry_interval
        if went_down:
            log.warning(kv("blob descriptor cache unavailable, serving from storage",
                           cache="redis", error=exc))
            try:  # drop sockets to the dead server so the next probe dials afresh
                self.client.connection_pool.disconnect()
            except Exception:  # noqa: BLE001 - best effort, nothing depends on it
                pass

    def _call(self, operation: str, fn: Callable[[], T], default: T) -> T:
        if not self._may_call():
            return default
        try:
            with CACHE_REDIS.labels(operation).time():
                result = fn()
        except redis.RedisError as exc:
            self._failed(exc)
            return default
        self._succeeded()
        return result

    # ------------------------------------------------------------ the cache

    def get(self, digest: str) -> Descriptor | None:
        CACHE_REQUESTS.inc()
        found = self._call("Stat", lambda: self._stat(digest), None)
        if found is not None:
            CACHE_HITS.inc()
        return found

    def _stat(self, digest: str) -> Descriptor | None:
        got, size, media_type = self.client.hmget(
            descriptor_key(digest), ["digest", "size", "mediatype"])
        if got is None or size is None:
            return None
        return Descriptor(got.decode(), int(size), (media_type or b"").decode())

    def set(self, descriptor: Descriptor) -> None:
        self._call("SetDescriptor", lambda: self._set(self.client.pipeline(transaction=False),
                                                      descriptor).execute(), None)

    @staticmethod
    def _set(pipe, descriptor: Descriptor):  # noqa: ANN001, ANN205 - a redis-py pipeline
        key = descriptor_key(descriptor.digest)
        pipe.hset(key, mapping={"digest": descriptor.digest, "size": descriptor.size})
        # As the reference: the first media type seen for a digest stays the global one;
        # each repository keeps its own in its own hash.
        pipe.hsetnx(key, "mediatype", descriptor.media_type)
        return pipe

    def set_repository_member(self, repo: str, descriptor: Descriptor) -> None:
        def run() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.sadd(repository_set_key(repo), descriptor.digest)
            self._set(pipe, descriptor)
            pipe.hset(repository_descriptor_key(repo, descriptor.digest),
                      "mediatype", descriptor.media_type)
            pipe.execute()

        self._call("SetDescriptor", run, None)

    def is_repository_member(self, repo: str, digest: str) -> bool | None:
        CACHE_REQUESTS.inc()
        member = self._call(
            "Stat", lambda: bool(self.client.sismember(repository_set_key(repo), digest)), False)
        if not member:
            return None
        CACHE_HITS.inc()
        return True

    def get_repository_descriptor(self, repo: str, digest: str) -> Descriptor | None:
        CACHE_REQUESTS.inc()

        def run() -> Descriptor | None:
            if not self.client.sismember(repository_set_key(repo), digest):
                return None
            found = self._stat(digest)
            if found is None:
                return None
            media_type = self.client.hget(repository_descriptor_key(repo, digest), "mediatype")
            if media_type is not None:
                found = Descriptor(found.digest, found.size, media_type.decode())
            return found

        found = self._call("Stat", run, None)
        if found is not None:
            CACHE_HITS.inc()
        return found

    def delete(self, digest: str) -> None:
        self._call("Clear", lambda: self.client.delete(descriptor_key(digest)), None)

    def delete_repository_member(self, repo: str, digest: str) -> None:
        def run() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.srem(repository_set_key(repo), digest)
            pipe.delete(repository_descriptor_key(repo, digest))
            pipe.execute()

        self._call("Clear", run, None)

    def close(self) -> None:
        self.client.close()
