"""The registry's configuration: the reference registry's YAML file, parsed and checked once.

Every key the reference accepts is accepted. Keys we read become typed fields; any other key
is reported by :func:`load_config` in ``Config.ignored_keys`` (and logged by the caller), never
an error. A key we read with a bad value stops start-up with a :class:`ConfigError` naming it.
Environment variables override keys the reference's way: ``REGISTRY_HTTP_ADDR`` sets
``http.addr``; values are read as YAML (so ``true``/``5``/``[a, b]`` work).

One module per section, each holding its dataclasses and the function that reads them
(:mod:`~shared.config.storage`, :mod:`~shared.config.http`, :mod:`~shared.config.auth`,
:mod:`~shared.config.log`, :mod:`~shared.config.redis_settings`,
:mod:`~shared.config.notifications`, :mod:`~shared.config.history`,
:mod:`~shared.config.console`, :mod:`~shared.config.validation`);
:mod:`~shared.config.loader` puts the file together.
The names below are re-exported for the services.
"""

from shared.config.auth import AuthConfig, HtpasswdConfig, TokenAuthConfig
from shared.config.console import ConsoleConfig
from shared.config.errors import ConfigError
from shared.config.history import HistoryConfig
from shared.config.http import HttpConfig, HttpTimeoutConfig
from shared.config.loader import Config, load_config, parse_config
from shared.config.log import LogConfig
from shared.config.notifications import (
    EVENT_ACTIONS,
    EVENT_FORMATS,
    QUEUE_TYPES,
    BrokerConfig,
    EndpointConfig,
    EndpointTLSConfig,
    NotificationsConfig,
)
from shared.config.redis_settings import RedisConfig
from shared.config.secrets import expand_secret
from shared.config.storage import CacheConfig, S3Config, StorageConfig, UploadPurgingConfig
from shared.config.validation import ValidationConfig

__all__ = [
    "EVENT_ACTIONS", "EVENT_FORMATS", "QUEUE_TYPES", "AuthConfig", "BrokerConfig", "CacheConfig",
    "Config", "ConfigError", "ConsoleConfig", "EndpointConfig", "EndpointTLSConfig",
    "HistoryConfig", "HtpasswdConfig", "HttpConfig", "HttpTimeoutConfig", "LogConfig",
    "NotificationsConfig", "RedisConfig", "S3Config", "StorageConfig", "TokenAuthConfig",
    "UploadPurgingConfig", "ValidationConfig", "expand_secret", "load_config",
    "parse_config",
]
