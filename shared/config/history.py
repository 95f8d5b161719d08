"""The ``notifications.history`` section: where the delivery history is kept, and for how long."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from shared.config.errors import ConfigError
from shared.config.secrets import expand_secret
from shared.config.section import Section

HISTORY_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
DEFAULT_RETENTION = 168 * 3600.0
DEFAULT_MAX_BODY_BYTES = 4096


@dataclass(frozen=True)
class HistoryConfig:
    # None: SQLite in the state directory (Config.history_url() says where).
    url: str | None = None
    retention: float = DEFAULT_RETENTION  # seconds; 0 keeps everything
    maxbodybytes: int = DEFAULT_MAX_BODY_BYTES  # of each response body kept
    disabled: bool = False  # ours: no history at all (pause/resume need it)


def parse_history(notifications: Section) -> HistoryConfig:
    h = notifications.section("history")
    url = h.str("url") or None
    if url:
        # The URL holds the database password: it may come from ${env:...} or ${file:...}.
        url = expand_secret(url, h.key("url")) or None
    if url:
        scheme = urlparse(url).scheme
        if scheme not in HISTORY_SCHEMES:
            # The URL may hold a password: name the scheme only.
            raise ConfigError(h.key("url"), f"expected a sqlite:/// or postgresql:// URL, got "
                                            f"scheme {scheme!r}")
    retention = h.duration("retention", DEFAULT_RETENTION)
    return HistoryConfig(
        url=url,
        retention=DEFAULT_RETENTION if retention is None else retention,
        maxbodybytes=h.int("maxbodybytes", DEFAULT_MAX_BODY_BYTES, minimum=0) or 0,
        disabled=h.bool("disabled"),
    )
