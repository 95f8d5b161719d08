"""The ``storage`` section: one driver and its settings, delete, cache, maintenance."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config.errors import ConfigError
from shared.config.section import Section

STORAGE_DRIVERS = ("filesystem", "inmemory", "s3")
# Storage driver keys the reference knows but we cannot serve from.
FOREIGN_STORAGE_DRIVERS = ("azure", "gcs", "swift", "oss")
STORAGE_SETTINGS = ("delete", "cache", "maintenance", "redirect", "tag")


@dataclass(frozen=True)
class S3Config:
    bucket: str
    region: str = "us-east-1"
    regionendpoint: str | None = None
    accesskey: str | None = None
    secretkey: str | None = None
    rootdirectory: str = ""
    secure: bool = True
    forcepathstyle: bool = True


@dataclass(frozen=True)
class CacheConfig:
    blobdescriptor: str | None = None  # "inmemory" | "redis" | None
    blobdescriptorsize: int = 10000


@dataclass(frozen=True)
class UploadPurgingConfig:
    enabled: bool = True
    age: float = 168 * 3600.0
    interval: float = 24 * 3600.0
    dryrun: bool = False


@dataclass(frozen=True)
class StorageConfig:
    driver: str = "filesystem"
    rootdirectory: str = "/var/lib/registry"  # filesystem driver
    s3: S3Config | None = None
    delete_enabled: bool = False
    readonly: bool = False
    cache: CacheConfig = field(default_factory=CacheConfig)
    uploadpurging: UploadPurgingConfig = field(default_factory=UploadPurgingConfig)




def parse_storage(storage: Section) -> StorageConfig:
    drivers = [k for k in storage.raw if k not in STORAGE_SETTINGS]
    if not drivers:
        raise ConfigError("storage", "no storage driver configured (filesystem, inmemory or s3)")
    if len(drivers) > 1:
        raise ConfigError("storage", f"more than one storage driver configured: {', '.join(drivers)}")
    driver = drivers[0]
    if driver in FOREIGN_STORAGE_DRIVERS or driver not in STORAGE_DRIVERS:
        raise ConfigError(
            f"storage.{driver}", f"driver not supported here (supported: {', '.join(STORAGE_DRIVERS)})"
        )
    settings = storage.section(driver)
    rootdirectory = "/var/lib/registry"
    s3 = None
    if driver == "filesystem":
        rootdirectory = settings.str("rootdirectory", rootdirectory) or rootdirectory
        settings.value("maxthreads")  # a Go tuning knob with no meaning here
    elif driver == "s3":
        s3 = S3Config(
            bucket=settings.str("bucket", required=True) or "",
            region=settings.str("region", "us-east-1") or "us-east-1",
            regionendpoint=settings.str("regionendpoint"),
            accesskey=settings.str("accesskey"),
            secretkey=settings.str("secretkey"),
            rootdirectory=(settings.str("rootdirectory", "") or "").strip("/"),
            secure=settings.bool("secure", True),
            forcepathstyle=settings.bool("forcepathstyle", True),
        )
    cache = storage.section("cache")
    kind = cache.str("blobdescriptor")
    if kind == "layerinfo":  # the reference's legacy alias
        kind = "inmemory"
    if kind is not None and kind not in ("inmemory", "redis"):
        raise ConfigError("storage.cache.blobdescriptor", f"expected inmemory or redis, got {kind!r}")
    maintenance = storage.section("maintenance")
    purging = maintenance.section("uploadpurging")
    return StorageConfig(
        driver=driver,
        rootdirectory=rootdirectory,
        s3=s3,
        delete_enabled=storage.section("delete").bool("enabled"),
        readonly=maintenance.section("readonly").bool("enabled"),
        cache=CacheConfig(
            blobdescriptor=kind, blobdescriptorsize=cache.int("blobdescriptorsize", 10000) or 0
        ),
        uploadpurging=UploadPurgingConfig(
            enabled=purging.bool("enabled", True),
            age=purging.duration("age", 168 * 3600.0) or 0.0,
            interval=purging.duration("interval", 24 * 3600.0) or 0.0,
            dryrun=purging.bool("dryrun"),
        ),
    )
