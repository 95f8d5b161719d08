"""The whole file: read, overridden from the environment, checked, typed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from shared.config.auth import AuthConfig, parse_auth
from shared.config.console import ConsoleConfig, parse_console
from shared.config.environment import apply_env_overrides
from shared.config.errors import ConfigError
from shared.config.history import HistoryConfig, parse_history
from shared.config.http import HttpConfig, parse_http
from shared.config.log import LogConfig, parse_log
from shared.config.notifications import NotificationsConfig, parse_notifications
from shared.config.redis_settings import RedisConfig, parse_redis
from shared.config.section import Section
from shared.config.storage import StorageConfig, parse_storage
from shared.config.validation import ValidationConfig, parse_validation


@dataclass(frozen=True)
class Config:
    version: str = "0.1"
    log: LogConfig = field(default_factory=LogConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    redis: RedisConfig | None = None
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)  # notifications.history
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

    def history_url(self) -> str:
        """The delivery history's database: ``notifications.history.url``, or an SQLite file in
        the state directory."""
        return self.history.url or f"sqlite:///{self.state_directory() / 'history.db'}"



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
    root = Section(raw, "", seen)
    version = root.str("version", "0.1")
    config = Config(
        version=version or "0.1",
        log=parse_log(root),
        storage=parse_storage(root.section("storage")),
        http=parse_http(root.section("http")),
        auth=parse_auth(root.section("auth")),
        redis=parse_redis(root.section("redis")) if root.has("redis") else None,
        notifications=parse_notifications(root.section("notifications")),
        console=parse_console(root.section("console")),
        validation=parse_validation(root.section("validation")),
        history=parse_history(root.section("notifications")),
        source=source,
    )
    if config.storage.cache.blobdescriptor == "redis" and not (config.redis and config.redis.addrs):
        raise ConfigError("redis.addr", "storage.cache.blobdescriptor is redis but no redis is configured")
    return replace(config, ignored_keys=tuple(_unread(raw, seen)))
