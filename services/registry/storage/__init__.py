"""Storage drivers and the factory that picks one from the configuration."""

from __future__ import annotations

from services.registry.storage.driver import FileInfo, FileWriter, PathNotFound, StorageDriver
from services.registry.storage.timed import TimedDriver
from shared.config import Config

__all__ = ["FileInfo", "FileWriter", "PathNotFound", "StorageDriver", "TimedDriver", "build_driver"]


def build_driver(config: Config) -> StorageDriver:
    """The configured driver, timed (``registry_storage_action_seconds``) by one wrapper."""
    return TimedDriver(_bare_driver(config))


def _bare_driver(config: Config) -> StorageDriver:
    driver = config.storage.driver
    if driver == "filesystem":
        from services.registry.storage.filesystem import FilesystemDriver

        return FilesystemDriver(config.storage.rootdirectory)
    if driver == "inmemory":
        from services.registry.storage.inmemory import InMemoryDriver

        return InMemoryDriver()
    if driver == "s3":
        # Imported lazily: boto3 is only needed by registries that store in S3.
        from services.registry.storage.s3 import S3Driver

        return S3Driver(config.storage.s3)
    raise ValueError(f"unknown storage driver {driver!r}")
