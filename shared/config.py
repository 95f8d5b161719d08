"""The registry's configuration: the reference registry's YAML file, parsed and checked once.

Every key the reference accepts is accepted. Keys we read become typed fields; any other key
is reported by :func:`load_config` in ``Config.ignored_keys`` (and logged by the caller), never
an error. A key we read with a bad value stops start-up with a :class:`ConfigError` naming it.
Environment variables override keys the reference's way: ``REGISTRY_HTTP_ADDR`` sets
``http.addr``; values are read as YAML (so ``true``/``5``/``[a, b]`` work).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from shared.durations import parse_duration

ENV_PREFIX = "REGISTRY_"
STORAGE_DRIVERS = ("filesystem", "inmemory", "s3")
# Storage driver keys the reference knows but we cannot serve from.
FOREIGN_STORAGE_DRIVERS = ("azure", "gcs", "swift", "oss")
STORAGE_SETTINGS = ("delete", "cache", "maintenance", "redirect", "tag")
EVENT_FORMATS = ("event", "envelope", "cloudevents")
EVENT_ACTIONS = ("pull", "push", "mount", "delete")
QUEUE_TYPES = ("classic", "quorum")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"configuration error: {key}: {problem}")
        self.key = key


# ---------------------------------------------------------------- typed configuration


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    formatter: str = "text"
    accesslog_disabled: bool = False
    fields: dict[str, str] = field(default_factory=dict)


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


@dataclass(frozen=True)
class RedisConfig:
    addrs: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = None
    db: int = 0
    dialtimeout: float | None = None
    readtimeout: float | None = None
    writetimeout: float | None = None
    maxactive: int | None = None  # pool.maxactive / poolsize / maxactiveconns
    maxidle: int | None = None
    idletimeout: float | None = None
    tls: bool = False


@dataclass(frozen=True)
class HttpTimeoutConfig:
    """``http.timeout`` (ours; the reference has no such keys): how long a client may take to
    send a request's line and headers (``header``, from when its connection is taken up), and
    how long it may leave a request body without sending more (``body``, so a slow upload
    that keeps moving is never cut)."""

    header: float = 30.0
    body: float = 60.0


@dataclass(frozen=True)
class HttpConfig:
    addr: str = ":5000"
    host: str | None = None  # external base URL, used in Location headers and event urls
    prefix: str = "/"
    secret: str | None = None
    relativeurls: bool = False
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tls_certificate: str | None = None
    tls_key: str | None = None
    debug_addr: str | None = None
    prometheus_enabled: bool = False
    prometheus_path: str = "/metrics"
    workers: int = 2
    threads: int = 8
    draintimeout: float = 0.0
    timeout: HttpTimeoutConfig = field(default_factory=HttpTimeoutConfig)


@dataclass(frozen=True)
class HtpasswdConfig:
    realm: str
    path: str


@dataclass(frozen=True)
class TokenAuthConfig:
    realm: str
    service: str
    issuer: str
    rootcertbundle: str | None = None
    jwks: str | None = None
    autoredirect: bool = False
    # Where the realm points when autoredirect is on, on the Host the client used.
    autoredirectpath: str = "/auth/token"
    signingalgorithms: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthConfig:
    htpasswd: HtpasswdConfig | None = None
    token: TokenAuthConfig | None = None


@dataclass(frozen=True)
class EndpointTLSConfig:
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    insecureskipverify: bool = False


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    url: str
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout: float = 1.0
    threshold: int = 10
    backoff: float = 1.0
    maxbackoff: float = 300.0
    disabled: bool = False
    format: str = "event"
    # ignoredmediatypes and ignore.mediatypes, merged as the reference does
    ignored_mediatypes: tuple[str, ...] = ()
    ignored_actions: tuple[str, ...] = ()
    ignored_repositories: tuple[str, ...] = ()
    ignore_headrequests: bool = False
    repositories: tuple[str, ...] = ()  # empty: all repositories
    signing_secrets: tuple[str, ...] = ()
    tls: EndpointTLSConfig = field(default_factory=EndpointTLSConfig)
    concurrency: int = 8


@dataclass(frozen=True)
class BrokerConfig:
    url: str | None = None  # None: the embedded broker on local disk
    exchange: str = "registry.events"
    directory: str | None = None  # embedded broker's folder (default: under the storage root)
    spooldirectory: str | None = None  # where events wait while the broker is unreachable
    # RabbitMQ queue type of every queue we declare. "quorum" (replicated) survives the loss of a
    # cluster node; Redis and the embedded broker have one kind of queue and ignore it.
    queuetype: str = "classic"

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def redis(self) -> bool:
        return (self.url or "").split(":", 1)[0] in ("redis", "rediss")


@dataclass(frozen=True)
class NotificationsConfig:
    endpoints: tuple[EndpointConfig, ...] = ()
    includereferences: bool = False
    broker: BrokerConfig = field(default_factory=BrokerConfig)


@dataclass(frozen=True)
class ValidationConfig:
    """``validation``: the reference's manifest URL rules. ``urls_allow`` and ``urls_deny`` are
    regular expressions, searched in each URL of a pushed manifest. With validation on (the
    default) and neither list set, no URL is allowed."""

    enabled: bool = True
    urls_allow: tuple[str, ...] = ()
    urls_deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    version: str = "0.1"
    log: LogConfig = field(default_factory=LogConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    redis: RedisConfig | None = None
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    ignored_keys: tuple[str, ...] = ()
    source: str | None = None

    def state_directory(self) -> Path:
        """A local folder for the embedded broker and the spool, beside the blobs when the
        storage is on local disk."""
        if self.storage.driver == "filesystem":
            return Path(self.storage.rootdirectory) / "_notifications"
        return Path(os.environ.get("REGISTRY_STATE_DIRECTORY", "/tmp/registry-state"))

    def broker_directory(self) -> Path:
        b = self.notifications.broker
        return Path(b.directory) if b.directory else self.state_directory() / "broker"

    def spool_directory(self) -> Path:
        b = self.notifications.broker
        return Path(b.spooldirectory) if b.spooldirectory else self.state_directory() / "spool"


# ---------------------------------------------------------------- reading


class _Section:
    """A mapping being read; remembers which keys were read so the rest can be reported."""

    def __init__(self, raw: Any, path: str, seen: set[str]):
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected a mapping, got {type(raw).__name__}")
        self.raw = {str(k).lower(): v for k, v in raw.items()}
        self.path = path
        self.seen = seen

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.raw

    def value(self, name: str, default: Any = None) -> Any:
        if name not in self.raw:
            return default
        self.seen.add(self.key(name))
        return self.raw[name]

    def section(self, name: str) -> _Section:
        # Reading a section marks nothing: its unread leaves are reported as ignored.
        return _Section(self.raw.get(name), self.key(name), self.seen)

    def str(self, name: str, default: str | None = None, required: bool = False) -> str | None:
        v = self.value(name)
        if v is None:
            if required:
                raise ConfigError(self.key(name), "is required")
            return default
        if isinstance(v, bool | dict | list):
            raise ConfigError(self.key(name), f"expected a string, got {v!r}")
        return str(v)

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.value(name)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise ConfigError(self.key(name), f"expected true or false, got {v!r}")

    def int(self, name: str, default: int | None = None, minimum: int | None = None) -> int | None:
        v = self.value(name)
        if v is None:
            return default
        try:
            if isinstance(v, bool):
                raise ValueError
            n = int(v)
        except (TypeError, ValueError):
            raise ConfigError(self.key(name), f"expected an integer, got {v!r}") from None
        if minimum is not None and n < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}, got {n}")
        return n

    def duration(self, name: str, default: float | None = None) -> float | None:
        v = self.value(name)
        if v is None:
            return default
        try:
            return parse_duration(v)
        except ValueError as exc:
            raise ConfigError(self.key(name), str(exc)) from None

    def strings(self, name: str) -> tuple[str, ...]:
        v = self.value(name)
        if v is None:
            return ()
        if isinstance(v, str):
            return (v,)
        if not isinstance(v, list) or not all(isinstance(i, str | int | float) for i in v):
            raise ConfigError(self.key(name), f"expected a list of strings, got {v!r}")
        return tuple(str(i) for i in v)

    def headers(self, name: str) -> dict[str, tuple[str, ...]]:
        raw = self.value(name)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise ConfigError(self.key(name), "expected a mapping of header name to a list of values")
        out: dict[str, tuple[str, ...]] = {}
        for header, values in raw.items():
            key = f"{self.key(name)}.{header}"
            if isinstance(values, str | int | float) and not isinstance(values, bool):
                values = [values]  # the reference wants a list; a lone value is what was meant
            if not isinstance(values, list):
                raise ConfigError(key, f"expected a list of values, got {values!r}")
            if not _HEADER_NAME.fullmatch(str(header)):
                raise ConfigError(key, "not a valid HTTP header name")
            expanded = tuple(expand_secret(str(v), key) for v in values)
            if any("\r" in v or "\n" in v for v in expanded):
                # Said without the value: it may be a secret.
                raise ConfigError(key, "a header value must not contain a line break")
            if not all(_sendable(v) for v in expanded):
                raise ConfigError(key, "a header value must be Latin-1 text (HTTP sends bytes)")
            out[str(header)] = expanded
        return out


# Patterns on input are used with fullmatch: "$" also matches before a final newline.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ADDR = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d+")


def _sendable(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


_SECRET_REF = re.compile(r"\$\{(env|file):([^}]+)\}")


def expand_secret(value: str, key: str) -> str:
    """``${env:NAME}`` and ``${file:/path}`` let a secret live outside the config file
    (a Kubernetes Secret mounted as a file or an environment variable)."""
    match = _SECRET_REF.fullmatch(value.strip())
    if not match:
        return value
    kind, ref = match.groups()
    if kind == "env":
        if ref not in os.environ:
            raise ConfigError(key, f"environment variable {ref} is not set")
        return os.environ[ref]
    try:
        return Path(ref).read_text().strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {ref}: {exc.strerror}") from None


def _all_paths(raw: Any, path: str = "") -> list[str]:
    if isinstance(raw, Mapping):
        # an empty mapping (``inmemory: {}``) sets nothing, so there is nothing to ignore
        out = []
        for k, v in raw.items():
            out.extend(_all_paths(v, f"{path}.{str(k).lower()}" if path else str(k).lower()))
        return out
    return [path] if path else []


def _unread(raw: Mapping, seen: set[str]) -> list[str]:
    """Leaf keys of ``raw`` neither read themselves nor under a key whose value was read whole
    (``http.headers``: its inner keys are data, not config keys)."""
    out = []
    for leaf in _all_paths(raw):
        parts = leaf.split(".")
        if not any(".".join(parts[: i + 1]) in seen for i in range(len(parts))):
            out.append(leaf)
    return out


def apply_env_overrides(raw: dict, environ: Mapping[str, str]) -> dict:
    """``REGISTRY_A_B_C=v`` sets ``a.b.c``. Existing keys are matched case-insensitively."""
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == "REGISTRY_STATE_DIRECTORY":
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("_")
        if not all(parts):
            continue
        node = raw
        for part in parts[:-1]:
            match = next((k for k in node if str(k).lower() == part), None)
            if match is None or not isinstance(node[match], dict):
                node[match or part] = {}
                match = match or part
            node = node[match]
        leaf = next((k for k in node if str(k).lower() == parts[-1]), parts[-1])
        try:
            node[leaf] = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            node[leaf] = value
    return raw


def load_config(path: str | os.PathLike | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the YAML file at ``path`` (None: an empty file), apply environment overrides,
    check everything, and return a :class:`Config`."""
    raw: Any = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ConfigError("(file)", f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError("(file)", f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("(file)", "the top level must be a mapping")
    raw = apply_env_overrides(raw, os.environ if environ is None else environ)
    return parse_config(raw, source=str(path) if path else None)


def parse_config(raw: dict, source: str | None = None) -> Config:
    seen: set[str] = set()
    root = _Section(raw, "", seen)
    version = root.str("version", "0.1")
    config = Config(
        version=version or "0.1",
        log=_log(root),
        storage=_storage(root.section("storage")),
        http=_http(root.section("http")),
        auth=_auth(root.section("auth")),
        redis=_redis(root.section("redis")) if root.has("redis") else None,
        notifications=_notifications(root.section("notifications")),
        validation=_validation(root.section("validation")),
        source=source,
    )
    if config.storage.cache.blobdescriptor == "redis" and not (config.redis and config.redis.addrs):
        raise ConfigError("redis.addr", "storage.cache.blobdescriptor is redis but no redis is configured")
    return replace(config, ignored_keys=tuple(_unread(raw, seen)))


def _log(root: _Section) -> LogConfig:
    log = root.section("log")
    level = (log.str("level") or root.str("loglevel") or "info").lower()
    if level not in ("debug", "info", "warn", "warning", "error", "fatal", "panic"):
        raise ConfigError("log.level", f"unknown level {level!r}")
    formatter = (log.str("formatter") or "text").lower()
    if formatter not in ("text", "json", "logstash"):
        raise ConfigError("log.formatter", f"unknown formatter {formatter!r}")
    fields = log.value("fields") or {}
    if not isinstance(fields, Mapping):
        raise ConfigError("log.fields", "expected a mapping")
    return LogConfig(
        level=level,
        formatter=formatter,
        accesslog_disabled=log.section("accesslog").bool("disabled"),
        fields={str(k): str(v) for k, v in fields.items()},
    )


def _storage(storage: _Section) -> StorageConfig:
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


def _http(http: _Section) -> HttpConfig:
    addr = http.str("addr", ":5000") or ":5000"
    if not _ADDR.fullmatch(addr):
        raise ConfigError("http.addr", f"expected host:port or :port, got {addr!r}")
    host = http.str("host")
    if host and not urlparse(host).scheme:
        raise ConfigError("http.host", f"expected an absolute URL, got {host!r}")
    tls = http.section("tls")
    debug = http.section("debug")
    prometheus = debug.section("prometheus")
    debug_addr = debug.str("addr")
    if debug_addr and not _ADDR.fullmatch(debug_addr):
        raise ConfigError("http.debug.addr", f"expected host:port or :port, got {debug_addr!r}")
    return HttpConfig(
        addr=addr,
        host=host.rstrip("/") if host else None,
        prefix=http.str("prefix", "/") or "/",
        secret=http.str("secret"),
        relativeurls=http.bool("relativeurls"),
        headers=http.headers("headers"),
        tls_certificate=tls.str("certificate"),
        tls_key=tls.str("key"),
        debug_addr=debug_addr,
        prometheus_enabled=prometheus.bool("enabled"),
        prometheus_path=prometheus.str("path", "/metrics") or "/metrics",
        workers=http.int("workers", 2, minimum=1) or 2,
        threads=http.int("threads", 8, minimum=1) or 8,
        draintimeout=http.duration("draintimeout", 0.0) or 0.0,
        timeout=_http_timeout(http.section("timeout")),
    )


def _http_timeout(t: _Section) -> HttpTimeoutConfig:
    values = {}
    for name in ("header", "body"):
        seconds = t.duration(name, getattr(HttpTimeoutConfig, name))
        if not seconds or seconds <= 0:
            raise ConfigError(t.key(name), "must be a positive duration (e.g. 30s)")
        values[name] = seconds
    return HttpTimeoutConfig(**values)


def _auth(auth: _Section) -> AuthConfig:
    kinds = [k for k in auth.raw]
    htpasswd = token = None
    if "htpasswd" in kinds:
        h = auth.section("htpasswd")
        htpasswd = HtpasswdConfig(
            realm=h.str("realm", "Registry Realm") or "Registry Realm",
            path=h.str("path", required=True) or "",
        )
    if "token" in kinds:
        t = auth.section("token")
        autoredirect = t.bool("autoredirect")
        token = TokenAuthConfig(
            realm=t.str("realm", required=True) or "",
            service=t.str("service", required=True) or "",
            issuer=t.str("issuer", required=True) or "",
            rootcertbundle=t.str("rootcertbundle"),
            jwks=t.str("jwks"),
            autoredirect=autoredirect,
            autoredirectpath=_autoredirectpath(t, autoredirect),
            signingalgorithms=t.strings("signingalgorithms"),
        )
        if not token.rootcertbundle and not token.jwks:
            raise ConfigError("auth.token.rootcertbundle", "is required (or auth.token.jwks)")
    if htpasswd and token:
        raise ConfigError("auth", "configure only one of htpasswd and token")
    return AuthConfig(htpasswd=htpasswd, token=token)


def _autoredirectpath(t: _Section, autoredirect: bool) -> str:
    """``auth.token.autoredirectpath``. The reference reads it only when ``autoredirect`` is on
    (otherwise it is accepted and unused, not reported as ignored), takes an empty one as the
    default, and puts a path without a leading ``/`` under the host all the same."""
    default = TokenAuthConfig.autoredirectpath
    if not autoredirect:
        t.value("autoredirectpath")
        return default
    path = t.str("autoredirectpath") or default
    return path if path.startswith("/") else "/" + path


def _redis(redis: _Section) -> RedisConfig:
    addrs = list(redis.strings("addrs"))
    single = redis.str("addr")
    if single:
        addrs.insert(0, single)
    pool = redis.section("pool")
    return RedisConfig(
        addrs=tuple(addrs),
        username=redis.str("username"),
        password=redis.str("password") or None,
        db=redis.int("db", 0, minimum=0) or 0,
        dialtimeout=redis.duration("dialtimeout"),
        readtimeout=redis.duration("readtimeout"),
        writetimeout=redis.duration("writetimeout"),
        maxactive=pool.int("maxactive") or redis.int("poolsize") or redis.int("maxactiveconns"),
        maxidle=pool.int("maxidle") or redis.int("maxidleconns"),
        idletimeout=pool.duration("idletimeout") or redis.duration("connmaxidletime"),
        tls=bool(redis.section("tls").raw) if redis.has("tls") else False,
    )


def _notifications(n: _Section) -> NotificationsConfig:
    events = n.section("events")
    broker = n.section("broker")
    url = broker.str("url")
    if url:
        scheme = urlparse(url).scheme
        if scheme not in ("amqp", "amqps", "pyamqp", "redis", "rediss", "filesystem", "memory"):
            raise ConfigError("notifications.broker.url", f"unsupported broker scheme {scheme!r}")
    queuetype = (broker.str("queuetype", "classic") or "").lower()  # "" is no type either
    if queuetype not in QUEUE_TYPES:
        raise ConfigError("notifications.broker.queuetype",
                          f"expected {' or '.join(QUEUE_TYPES)}, got {queuetype!r}")
    raw_endpoints = n.value("endpoints") or []
    if not isinstance(raw_endpoints, list):
        raise ConfigError("notifications.endpoints", "expected a list")
    endpoints = []
    for i, raw in enumerate(raw_endpoints):
        endpoints.append(_endpoint(_Section(raw, f"notifications.endpoints.{i}", n.seen)))
    names = [e.name for e in endpoints]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("notifications.endpoints", f"endpoint name {name!r} is used twice")
    return NotificationsConfig(
        endpoints=tuple(endpoints),
        includereferences=events.bool("includereferences"),
        broker=BrokerConfig(
            url=url or None,
            exchange=broker.str("exchange", "registry.events") or "registry.events",
            directory=broker.str("directory"),
            spooldirectory=broker.str("spooldirectory"),
            queuetype=queuetype,
        ),
    )


_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _endpoint(e: _Section) -> EndpointConfig:
    name = e.str("name", required=True) or ""
    if not _ENDPOINT_NAME.fullmatch(name):
        raise ConfigError(e.key("name"), f"use letters, digits, '.', '_' and '-' only, got {name!r}")
    url = e.str("url", required=True) or ""
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ConfigError(e.key("url"), f"expected an http:// or https:// URL, got {url!r}")
    fmt = (e.str("format", "event") or "event").lower()
    if fmt not in EVENT_FORMATS:
        raise ConfigError(e.key("format"), f"expected one of {', '.join(EVENT_FORMATS)}, got {fmt!r}")
    ignore = e.section("ignore")
    actions = ignore.strings("actions")
    for action in actions:
        if action not in EVENT_ACTIONS:
            raise ConfigError(ignore.key("actions"), f"unknown action {action!r}")
    signing = e.section("signing")
    secrets = list(signing.strings("secrets"))
    if signing.str("secret"):
        secrets.insert(0, signing.str("secret") or "")
    secrets = [expand_secret(s, signing.key("secret")) for s in secrets]
    for s in secrets:
        if not s.startswith("whsec_"):
            raise ConfigError(signing.key("secret"), "a signing secret starts with whsec_")
    tls = e.section("tls")
    timeout = e.duration("timeout", 1.0)
    backoff = e.duration("backoff", 1.0)
    return EndpointConfig(
        name=name,
        url=url,
        headers=e.headers("headers"),
        timeout=timeout if timeout else 1.0,
        threshold=e.int("threshold", 10, minimum=1) or 10,
        backoff=backoff if backoff is not None else 1.0,
        maxbackoff=e.duration("maxbackoff", 300.0) or 300.0,
        disabled=e.bool("disabled"),
        format=fmt,
        ignored_mediatypes=tuple(
            dict.fromkeys(e.strings("ignoredmediatypes") + ignore.strings("mediatypes"))
        ),
        ignored_actions=actions,
        ignored_repositories=ignore.strings("repositories"),
        ignore_headrequests=ignore.bool("headrequests"),
        repositories=e.strings("repositories"),
        signing_secrets=tuple(secrets),
        tls=EndpointTLSConfig(
            ca=tls.str("ca"),
            certificate=tls.str("certificate"),
            key=tls.str("key"),
            insecureskipverify=tls.bool("insecureskipverify"),
        ),
        concurrency=e.int("concurrency", 8, minimum=1) or 8,
    )


def _validation(v: _Section) -> ValidationConfig:
    """``validation``: ``disabled`` (or the deprecated ``enabled``, which wins when true, as in
    the reference) and ``manifests.urls.allow`` / ``deny``, each pattern compiled here so a bad
    one stops start-up naming its key."""
    urls = v.section("manifests").section("urls")
    patterns: dict[str, tuple[str, ...]] = {}
    for name in ("allow", "deny"):
        patterns[name] = urls.strings(name)
        for pattern in patterns[name]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(urls.key(name), f"{pattern!r} is not a regular expression: {exc}") \
                    from None
    return ValidationConfig(
        enabled=v.bool("enabled") or not v.bool("disabled"),
        urls_allow=patterns["allow"],
        urls_deny=patterns["deny"],
    )
