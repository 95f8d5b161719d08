"""The few statements that differ between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert(connection: sa.Connection, table: sa.Table) -> Any:
    """An INSERT with ``on_conflict_do_nothing``/``on_conflict_do_update`` (same API on both)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def minute_of(connection: sa.Connection, column: sa.ColumnElement) -> sa.ColumnElement:
    """The whole minutes since the epoch of a time column (epoch seconds)."""
    if connection.dialect.name == "postgresql":
        return sa.func.floor(column / 60)
    # SQLite's floor() needs its math extension; times are positive, so truncation floors.
    return sa.cast(column / 60, sa.Integer)
