"""Endpoint pauses, shared by every notifier through the history's database.

An operator's pause (``registry endpoints pause``) and an automatic one (every delivery failing
for ``autopause``) are one row per endpoint; notifiers read the table twice a second, so a pause
holds everywhere within a second. An auto-paused endpoint is probed by one notifier at a time:
:func:`claim_probe` lets exactly one of them take each probe slot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from shared.history.dialect import insert
from shared.history.schema import controls
from shared.history.store import HistoryStore

OPERATOR, AUTO = "operator", "auto"  # why an endpoint is paused


@dataclass(frozen=True)
class Control:
    endpoint: str
    paused: bool
    reason: str | None  # operator | auto
    since: float | None
    by: str | None  # who paused it: "operator" or the notifier that auto-paused it
    last_probe: float | None = None


def read_controls(store: HistoryStore) -> dict[str, Control]:
    """Every endpoint's pause state (an endpoint never paused has no entry)."""
    with store.begin() as connection:
        rows = connection.execute(sa.select(controls)).mappings().all()
    return {r["endpoint"]: Control(r["endpoint"], bool(r["paused"]), r["reason"], r["since"],
                                   r["paused_by"], r["last_probe"]) for r in rows}


def set_paused(store: HistoryStore, endpoint: str, reason: str, by: str,
               now: float | None = None) -> bool:
    """Pause ``endpoint``. An automatic pause never replaces an operator's; an operator's
    replaces an automatic one. True when the state changed."""
    now = now or time.time()
    with store.begin() as connection:
        current = connection.execute(
            sa.select(controls.c.paused, controls.c.reason).where(controls.c.endpoint == endpoint)
        ).first()
        if current is not None and current.paused and (current.reason == reason or reason == AUTO):
            return False
        stmt = insert(connection, controls).values(
            endpoint=endpoint, paused=True, reason=reason, since=now, paused_by=by,
            # The first probe comes one interval after the pause.
            last_probe=now)
        connection.execute(stmt.on_conflict_do_update(
            index_elements=["endpoint"],
            set_={"paused": True, "reason": reason, "since": now, "paused_by": by,
                  "last_probe": now}))
    return True


def set_resumed(store: HistoryStore, endpoint: str, only_reason: str | None = None,
                now: float | None = None) -> bool:
    """Resume ``endpoint`` (with ``only_reason``, only a pause of that kind: a probe's success
    does not lift an operator's pause). True when the state changed."""
    now = now or time.time()
    condition = sa.and_(controls.c.endpoint == endpoint, controls.c.paused.is_(True))
    if only_reason is not None:
        condition = sa.and_(condition, controls.c.reason == only_reason)
    with store.begin() as connection:
        result = connection.execute(sa.update(controls).where(condition).values(
            paused=False, reason=None, since=now, paused_by=None, last_probe=None))
    return bool(result.rowcount)


def claim_probe(store: HistoryStore, endpoint: str, interval: float,
                now: float | None = None) -> bool:
    """Take this probe slot of an auto-paused endpoint: True for one notifier per ``interval``."""
    now = now or time.time()
    with store.begin() as connection:
        result = connection.execute(sa.update(controls).where(
            controls.c.endpoint == endpoint, controls.c.paused.is_(True),
            controls.c.reason == AUTO,
            sa.or_(controls.c.last_probe.is_(None), controls.c.last_probe <= now - interval),
        ).values(last_probe=now))
    return bool(result.rowcount)
