"""Retention: rows older than ``notifications.history.retention`` go, a bounded batch per
transaction, so pruning never holds a lock for long or a large delete in memory."""

from __future__ import annotations

import time

import sqlalchemy as sa

from shared.history.schema import attempts, deliveries, events, notifiers
from shared.history.store import HistoryStore

PRUNE_BATCH = 5000


def _prune_where(store: HistoryStore, table: sa.Table, key: sa.Column,
                 condition: sa.ColumnElement, batch: int) -> int:
    removed = 0
    while True:
        chosen = sa.select(key).where(condition).limit(batch).scalar_subquery()
        with store.begin() as connection:
            count = connection.execute(sa.delete(table).where(key.in_(chosen))).rowcount or 0
        removed += count
        if count < batch:
            return removed


def prune(store: HistoryStore, retention: float, now: float | None = None,
          batch: int = PRUNE_BATCH) -> dict[str, int]:
    """Remove what is older than ``retention`` seconds: attempts by when they were made,
    deliveries by their event's time and their last change (a resend keeps an old event's
    delivery), events once no delivery refers to them. Returns the rows removed per table."""
    if retention <= 0:
        return {}
    cutoff = (now or time.time()) - retention
    d = deliveries.alias("d")
    return {
        "attempts": _prune_where(store, attempts, attempts.c.id, attempts.c.time < cutoff, batch),
        "deliveries": _prune_where(
            store, deliveries, deliveries.c.id,
            sa.and_(deliveries.c.event_time < cutoff, deliveries.c.updated < cutoff), batch),
        "events": _prune_where(
            store, events, events.c.id,
            sa.and_(events.c.time < cutoff,
                    ~sa.exists().where(d.c.event_id == events.c.id)), batch),
        "notifiers": _prune_where(store, notifiers, notifiers.c.id,
                                  notifiers.c.last_seen < cutoff, batch),
    }
