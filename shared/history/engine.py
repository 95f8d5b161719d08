"""Connecting to the history's database and bringing its schema up to date.

One code path for both databases (SQLAlchemy Core): ``sqlite:///path`` (WAL, so readers never
wait for the notifier writing) and ``postgresql://...`` (psycopg 3). Whoever opens the store
first applies the migrations shipped in ``migrations/``; several notifiers starting at once take
turns (a transaction-scoped advisory lock on PostgreSQL, a lock file beside an SQLite database),
and the others find the schema current.
"""

from __future__ import annotations

import fcntl
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "history_alembic_version"
# The newest migration's revision. A database already there is recognised without loading
# Alembic (a command's start-up stays short); tests check it against migrations/versions.
HEAD_REVISION = "0002"
# Any constant: notifiers starting together queue on it for the migrations.
ADVISORY_LOCK_KEY = 0x68697374  # "hist"
SQLITE_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's transaction
CONNECT_TIMEOUT = 3  # seconds: an unreachable PostgreSQL must not hold a command for long
APPLICATION_NAME = "registry-history"  # how our sessions show in pg_stat_activity


class HistoryUnavailable(Exception):
    """The history's database cannot be reached or used; the message says why (never the
    URL's password)."""


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 (the only PostgreSQL driver we ship)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def safe_url(url: str) -> str:
    """The URL for a log line or an error message: no password."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by its scheme only
        return url.split(":", 1)[0] + "://..."


def create_engine(url: str) -> sa.Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                            connect_args={"connect_timeout": CONNECT_TIMEOUT,
                                          "application_name": APPLICATION_NAME})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: the console and the commands read while a notifier writes. NORMAL: a commit waits for
    # the WAL write, not for each checkpoint (the history is not the events' durable copy).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def head_revision() -> str:
    """The newest revision in ``migrations/versions`` (loads Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def _alembic_config():
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def migrate(engine: sa.Engine) -> None:
    """Apply the shipped migrations that the database lacks (once per engine URL per process)."""
    key = str(engine.url)
    with _migrated_lock:
        if key in _migrated:
            return
        with engine.connect() as connection:
            if _current_revision(connection) == HEAD_REVISION:
                _migrated.add(key)
                return
        with _exclusive(engine), engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": ADVISORY_LOCK_KEY})
            if _current_revision(connection) != HEAD_REVISION:
                from alembic import command

                config = _alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        _migrated.add(key)


@contextmanager
def _exclusive(engine: sa.Engine):
    """On SQLite, one process at a time migrates: a lock file beside the database."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
