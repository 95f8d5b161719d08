"""The few statements that differ between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from collections.abc import Callable
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


def _copyable(value: Any) -> Any:
    """PostgreSQL's text cannot hold NUL (a receiver's answer may): that byte alone is left out."""
    if value.__class__ is str and "\x00" in value:
        return value.replace("\x00", "")
    return value


def write_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
               on_conflict: Callable[[Any], Any] | None = None) -> None:
    """Insert ``rows`` (dicts with the same keys), ``on_conflict`` shaping the INSERT (given the
    dialect's insert, returns it with its ``on_conflict_*`` clause).

    On PostgreSQL the rows travel by COPY, each written by psycopg's row writer (its C
    implementation: ~5 us for an event's row, against ~23 us formatting the COPY text in
    Python, and a statement's worth for an INSERT): straight into the table, or, when a
    conflict clause is needed, into a temporary staging table from which one INSERT ... SELECT
    applies it. SQLite takes them as one executemany, in process."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        stmt = insert(connection, table)
        connection.execute(on_conflict(stmt) if on_conflict else stmt, rows)
        return
    columns = list(rows[0])
    target = table.name
    if on_conflict is not None:
        target = f"{table.name}_stage"
        column_list = ", ".join(columns)
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS AS "
            f"SELECT {column_list} FROM {table.name} WITH NO DATA")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_copyable(row[c]) for c in columns])
    if on_conflict is not None:
        stage = sa.table(target, *[sa.column(c) for c in columns])
        stmt = postgresql.insert(table).from_select(columns, sa.select(*stage.c))
        connection.execute(on_conflict(stmt))
        connection.exec_driver_sql(f"DELETE FROM {target}")
