"""The blob descriptor cache (``storage.cache.blobdescriptor``): ``inmemory`` or ``redis``."""

from __future__ import annotations

import logging

from services.registry.cache.base import BlobDescriptorCache
from services.registry.cache.memory import InMemoryBlobDescriptorCache
from services.registry.domain.descriptors import Descriptor
from shared.config import CacheConfig, Config
from shared.logfmt import kv

__all__ = ["BlobDescriptorCache", "Descriptor", "InMemoryBlobDescriptorCache", "build_cache"]

log = logging.getLogger(__name__)


def build_cache(config: Config) -> BlobDescriptorCache | None:
    """The configured cache, or None when ``storage.cache.blobdescriptor`` is unset."""
    cache = config.storage.cache
    if cache.blobdescriptor == "inmemory":
        return InMemoryBlobDescriptorCache(cache.blobdescriptorsize)
    if cache.blobdescriptor == "redis":
        if config.redis is None or not config.redis.addrs:  # config refuses this already
            raise ValueError("storage.cache.blobdescriptor is redis but no redis is configured")
        if cache.blobdescriptorsize != CacheConfig().blobdescriptorsize:
            log.warning(kv("storage.cache.blobdescriptorsize is ignored by the redis cache"))
        # Imported when configured only: redis-py takes ~0.25 s to import.
        from services.registry.cache.redis_cache import RedisBlobDescriptorCache

        return RedisBlobDescriptorCache.from_config(config.redis)
    return None

