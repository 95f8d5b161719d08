"""The store: one database engine, its schema brought up to date on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from shared.config import Config
from shared.history.engine import HistoryUnavailable, create_engine, migrate, safe_url


class HistoryStore:
    """The history's database. Safe to share between threads; cheap until first used (an
    unreachable database fails the first call, not the construction)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url)

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name  # sqlite | postgresql

    def ready(self) -> None:
        try:
            migrate(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(self._describe(exc)) from exc

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection in a transaction (committed on success), the schema current."""
        self.ready()
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(self._describe(exc)) from exc

    def _describe(self, exc: sa.exc.SQLAlchemyError) -> str:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"delivery history {self.safe_url}: {detail[0] if detail else type(exc).__name__}"

    def close(self) -> None:
        self.engine.dispose()


def open_store(config: Config) -> HistoryStore:
    """The configured store (``notifications.history.url``, SQLite in the state directory by
    default). Raises :class:`HistoryUnavailable` when the history is disabled."""
    if config.history.disabled:
        raise HistoryUnavailable("the delivery history is disabled (notifications.history.disabled)")
    return HistoryStore(config.history_url())
