"""The few statements that differ between SQLite and PostgreSQL, in one place, and how rows
reach PostgreSQL in bulk (COPY, straight in or through a staging table)."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
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


# Seconds a table whose rows met existing ones goes through staging (see CopyRoute).
STAGING_AFTER_CONFLICT = 60.0


class CopyRoute:
    """Whether a writer's rows that need a conflict clause may be copied straight into their
    table on PostgreSQL, or go through a staging table and one INSERT ... ON CONFLICT.

    Most of a notifier's batches hold only rows that do not exist yet (the first attempts at
    fresh events): copied straight in, they spare PostgreSQL a second copy of every row and an
    INSERT ... SELECT (``benchmarks/history_write_bench.py``: its CPU per delivery 40-43 -> 36-37
    us, with the writer's other changes of the day). A batch that meets an existing row
    (another notifier wrote the event, a retry, a fan-out's pending row) is rolled back to its
    savepoint and goes through staging, and so do that table's batches for the next
    :data:`STAGING_AFTER_CONFLICT` seconds: one conflict says more are coming (several
    notifiers, several endpoints), and a failed COPY is work thrown away."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._conflict_at: dict[str, float] = {}

    def straight(self, table: str) -> bool:
        at = self._conflict_at.get(table)
        return at is None or self.clock() - at >= STAGING_AFTER_CONFLICT

    def conflicted(self, table: str) -> None:
        self._conflict_at[table] = self.clock()


def _without_nul(values: tuple) -> tuple:
    """PostgreSQL's text cannot hold NUL (a receiver's answer may): that byte alone is left out."""
    return tuple(v.replace("\x00", "") if v.__class__ is str else v for v in values)


def write_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
               on_conflict: Callable[[Any], Any] | None = None,
               route: CopyRoute | None = None) -> None:
    """Insert ``rows`` (dicts with the same keys), ``on_conflict`` shaping the INSERT (given the
    dialect's insert, returns it with its ``on_conflict_*`` clause).

    On PostgreSQL the rows travel by COPY, each written by psycopg's row writer (its C
    implementation: ~5 us for an event's row, against ~23 us formatting the COPY text in
    Python, and a statement's worth for an INSERT): straight into the table, or, when a
    conflict clause is needed, into a temporary staging table from which one INSERT ... SELECT
    applies it (straight in first where ``route`` says so). SQLite takes them as one
    executemany, in process."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        stmt = insert(connection, table)
        connection.execute(on_conflict(stmt) if on_conflict else stmt, rows)
        return
    columns = list(rows[0])
    values = operator.itemgetter(*columns) if len(columns) > 1 else \
        (lambda row: (row[columns[0]],))
    staged = on_conflict is not None and (route is None or not route.straight(table.name))
    clean = False
    while True:
        # The rows as they are: psycopg refuses a NUL before sending it, and the COPY then
        # fails; the savepoint keeps the transaction, and the rows go again without the byte
        # (looking for it in every value first cost the writer more than the savepoint).
        selected = map(values, rows) if not clean else (_without_nul(values(r)) for r in rows)
        try:
            with connection.begin_nested():
                _copy(connection, table, columns, selected, on_conflict if staged else None)
            return
        except psycopg.errors.UniqueViolation:
            if staged or on_conflict is None:
                raise
            route.conflicted(table.name)
            staged = True
        except psycopg.DataError:
            if clean:
                raise
            clean = True


def _copy(connection: sa.Connection, table: sa.Table, columns: list[str],
          rows: Iterable[tuple], on_conflict: Callable[[Any], Any] | None) -> None:
    """COPY ``rows`` into ``table``, through its staging table if ``on_conflict`` is given."""
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
            copy.write_row(row)
    if on_conflict is not None:
        stage = sa.table(target, *[sa.column(c) for c in columns])
        stmt = postgresql.insert(table).from_select(columns, sa.select(*stage.c))
        connection.execute(on_conflict(stmt))
        connection.exec_driver_sql(f"DELETE FROM {target}")
