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


# COPY's text format: backslash escapes; PostgreSQL text cannot hold NUL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})


def _copy_text(value: Any) -> str:
    """One value in COPY's text format (built here: per row, psycopg's own row writer costs
    several times as much)."""
    if value is None:
        return "\\N"
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES)
    if value.__class__ is bool:
        return "t" if value else "f"
    return repr(value) if value.__class__ is float else str(value)


def write_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
               on_conflict: Callable[[Any], Any] | None = None) -> None:
    """Insert ``rows`` (dicts with the same keys), ``on_conflict`` shaping the INSERT (given the
    dialect's insert, returns it with its ``on_conflict_*`` clause).

    On PostgreSQL the rows travel by COPY (a row costs the notifier a few microseconds instead
    of a statement's worth): straight into the table, or, when a conflict clause is needed,
    into a temporary staging table from which one INSERT ... SELECT applies it. SQLite takes
    them as one executemany, in process."""
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
    text = "".join("\t".join([_copy_text(row[c]) for c in columns]) + "\n" for row in rows)
    with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(text.encode())
    if on_conflict is not None:
        stage = sa.table(target, *[sa.column(c) for c in columns])
        stmt = postgresql.insert(table).from_select(columns, sa.select(*stage.c))
        connection.execute(on_conflict(stmt))
        connection.exec_driver_sql(f"DELETE FROM {target}")
