"""The history's database itself, on SQLite and PostgreSQL: migrations applied once when
several processes open it at the same time, retention pruning (by a real notifier, and in
bounded batches), and deliveries going on while the database is down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa

from shared.config import EndpointConfig
from shared.history import HistoryStore, HistoryWriter, Settled
from shared.history.engine import VERSION_TABLE, head_revision
from shared.history.metrics import HISTORY_DROPPED
from shared.history.records import DELIVERED, AttemptRecord
from shared.history.retention import prune
from shared.history.schema import attempts, deliveries, events
from tests.conftest import free_port
from tests.integration.notifications.support import (
    REPO_ROOT,
    endpoint,
    make_event,
    wait_until,
)


def settled(event: dict, at: float, endpoint_name: str = "hook") -> Settled:
    attempt = AttemptRecord(started=at, duration_ms=1.0, request_headers={"A": "b"}, status=200)
    return Settled(endpoint=endpoint_name, event=event, routing_key="manifest.push",
                   state=DELIVERED, at=at, attempt=attempt, fanout=True)


def test_processes_opening_a_new_store_at_once_migrate_it_once(history):
    script = ("import sys; from shared.history.store import HistoryStore; "
              "HistoryStore(sys.argv[1]).ready()")
    procs = [subprocess.Popen([sys.executable, "-c", script, history["url"]], cwd=REPO_ROOT,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        assert proc.wait(60) == 0, proc.stderr.read()
    store = HistoryStore(history["url"])
    with store.begin() as connection:
        versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        assert versions == [(head_revision(),)]
        assert connection.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar() == 0
    store.close()


def test_retention_prunes_in_bounded_batches(history):
    store = HistoryStore(history["url"])
    now = time.time()
    writer = HistoryWriter(store, [EndpointConfig(name="hook", url="http://x/")], retention=0)
    old = [make_event().to_dict() | {"timestamp": "2020-01-01T00:00:00Z"} for _ in range(23)]
    new = [make_event().to_dict() for _ in range(4)]
    from shared.history.writes import write_batch

    with store.begin() as connection:
        write_batch(connection, [settled(e, now - 7200) for e in old] +
                    [settled(e, now) for e in new], writer.notifier,
                    [EndpointConfig(name="hook", url="http://x/"),
                     EndpointConfig(name="other", url="http://y/")])
    deletes = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_: deletes.append(statement)
                    if statement.lstrip().upper().startswith("DELETE FROM HISTORY_ATTEMPTS")
                    else None)
    removed = prune(store, retention=3600, now=now, batch=10)
    # 23 old attempts: batches of 10, 10, 3; each event had two deliveries (fan-out to "other").
    assert removed["attempts"] == 23 and removed["deliveries"] == 46 and removed["events"] == 23
    assert len(deletes) == 3
    with store.begin() as connection:
        left = connection.execute(sa.select(events.c.id)).scalars().all()
        assert sorted(left) == sorted(e["id"] for e in new)
        assert connection.execute(sa.select(sa.func.count()).select_from(attempts)).scalar() == 4
    store.close()


def test_a_notifier_prunes_what_is_older_than_the_retention(
        rabbitmq_url, receivers, deployments, notifiers, history, uid):
    hook = receivers()
    name = f"kept-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, hook.url)],
                    history={**history, "retention": "1s"})
    process = notifiers(d)
    d.publish(*[make_event() for _ in range(3)])
    hook.wait_for(3)

    def listed() -> int:
        result = d.cli("deliveries", "list", "--json", "--endpoint", name)
        assert result.returncode == 0, result.stderr
        return len(result.stdout.splitlines())

    wait_until(lambda: listed() == 3, 10, "3 deliveries recorded")
    # The first pruning comes 5 s after start, then every minute.
    wait_until(lambda: listed() == 0, 20, "the old deliveries pruned", interval=0.5)
    process.wait_log("delivery history pruned", timeout=5)


def test_deliveries_go_on_while_the_history_database_is_down(
        rabbitmq_url, receivers, deployments, notifiers, uid):
    hook = receivers()
    name = f"nodb-{uid}"
    d = deployments(rabbitmq_url, [endpoint(name, hook.url)],
                    history={"url": f"postgresql://127.0.0.1:{free_port()}/none"})
    process = notifiers(d)
    events = [make_event() for _ in range(5)]
    d.publish(*events)
    assert sorted(r.json["id"] for r in hook.wait_for(5)) == sorted(e.id for e in events)
    process.wait_log("delivery history unavailable, deliveries go on")
    listed = d.cli("deliveries", "list", "--endpoint", name)
    assert listed.returncode == 1 and "delivery history postgresql+psycopg://" in listed.stderr
    # The endpoint list still has the broker's figures.
    (summary,) = [json.loads(line) for line in
                  d.cli("endpoints", "list", "--json").stdout.splitlines()]
    assert summary["queued"] == 0 and summary["success_rate"] is None


def test_a_full_writer_queue_drops_and_counts_instead_of_blocking():
    store = HistoryStore(f"postgresql://127.0.0.1:{free_port()}/none")
    writer = HistoryWriter(store, [], retention=0, queue_size=3)  # not started: nothing drains
    before = HISTORY_DROPPED._value.get()
    started = time.monotonic()
    for _ in range(10):
        writer.record(settled(make_event().to_dict(), time.time()))
    assert time.monotonic() - started < 0.5
    assert HISTORY_DROPPED._value.get() - before == 7
    assert writer.dropped == 7


def test_awkward_text_comes_back_as_written(history):
    store = HistoryStore(history["url"])
    event = make_event(repository="odd/näme").to_dict()
    odd = "tab\there\nnewline \\backslash \\N null\x00byte ✓"
    attempt = AttemptRecord(started=time.time(), duration_ms=2.5,
                            request_headers={"X-Odd": "a\tb"}, status=500,
                            response_headers={"X-Line": "x\\ny"}, response_body=odd,
                            error_class="status", error="HTTP 500")
    from shared.history import show_event
    from shared.history.writes import write_batch

    with store.begin() as connection:
        write_batch(connection, [Settled("hook", event, "manifest.push", "retrying", time.time(),
                                         attempt, None, True)], "n:1",
                    [EndpointConfig(name="hook", url="http://x/")])
    shown = show_event(store, event["id"])
    assert shown.event == event
    (a,) = shown.deliveries[0].attempts
    # PostgreSQL's text cannot hold NUL: that byte alone is left out there.
    assert a.response_body == (odd.replace("\x00", "") if store.dialect == "postgresql" else odd)
    assert a.request_headers == {"X-Odd": "a\tb"} and a.response_headers == {"X-Line": "x\\ny"}
    store.close()


def test_endpoint_figures_read_only_their_window_of_each_endpoint(tmp_path):
    # The overview and endpoint pages ask for them on every look: with the window's attempts
    # grouped by endpoint, SQLite read every attempt ever kept (88 ms at 1 million).
    from shared.history.queries import endpoint_stats
    from shared.history.writes import write_batch

    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    now = time.time()
    hooks = [EndpointConfig(name="hook", url="http://x/"),
             EndpointConfig(name="other", url="http://y/")]
    writer = HistoryWriter(store, hooks, retention=0)
    events_ = [(make_event().to_dict(), now - 86400 * d / 200) for d in range(200)]  # a day
    with store.begin() as connection:
        write_batch(connection, [settled(e, at, h.name) for e, at in events_ for h in hooks],
                    writer.notifier, hooks)
    statements: list[tuple[str, Any]] = []

    def seen(_c, _cur, statement, parameters, *_):
        statements.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    stats = endpoint_stats(store, ["hook", "other"], window=3600, now=now)
    sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert stats["hook"].attempts == stats["other"].attempts == 9  # the last hour's
    with store.begin() as connection:
        plans = [row[3] for statement, parameters in statements
                 for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                       parameters)]
    assert plans and not [p for p in plans if p.startswith("SCAN")], plans
    store.close()


def _delivery_of(store: HistoryStore, event_id: str) -> dict:
    with store.begin() as connection:
        return dict(connection.execute(sa.select(deliveries).where(
            deliveries.c.event_id == event_id)).mappings().one())


def test_rows_that_exist_already_go_through_the_upsert_and_their_table_is_staged_a_while(
        history):
    from shared.history.dialect import STAGING_AFTER_CONFLICT, CopyRoute
    from shared.history.writes import write_batch

    store = HistoryStore(history["url"])
    hooks = [EndpointConfig(name="hook", url="http://x/")]
    now = [1000.0]
    route = CopyRoute(clock=lambda: now[0])
    first, second = make_event().to_dict(), make_event().to_dict()
    failed = AttemptRecord(started=time.time(), duration_ms=1.0, request_headers={}, status=500,
                           error_class="status", error="HTTP 500 Internal Server Error")
    with store.begin() as connection:
        write_batch(connection, [Settled("hook", first, "manifest.push", "retrying", time.time(),
                                         failed, time.time() + 5, True)], "n:1", hooks,
                    route=route)
    # The retry succeeds in a later batch beside a fresh event; its event and delivery rows
    # exist (no known_events: as if another notifier had written them).
    with store.begin() as connection:
        write_batch(connection, [settled(first, time.time()), settled(second, time.time())],
                    "n:1", hooks, route=route)
    row = _delivery_of(store, first["id"])
    assert (row["state"], row["attempts"], row["last_status"]) == ("delivered", 2, 200)
    assert _delivery_of(store, second["id"])["state"] == "delivered"
    with store.begin() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 2
        assert connection.execute(sa.select(sa.func.count()).select_from(attempts)).scalar() == 3
    if store.dialect == "postgresql":  # SQLite writes every batch through its upsert
        assert not route.straight(events.name) and not route.straight(deliveries.name)
        now[0] += STAGING_AFTER_CONFLICT
        assert route.straight(events.name) and route.straight(deliveries.name)
    store.close()


def test_a_batch_of_new_rows_is_copied_straight_into_its_tables(postgres_url):
    from shared.history.dialect import CopyRoute
    from shared.history.writes import write_batch
    from tests.conftest import postgres_schema

    with postgres_schema(postgres_url) as url:
        store = HistoryStore(url)
        store.ready()
        hooks = [EndpointConfig(name="hook", url="http://x/")]
        route = CopyRoute()
        batch = [settled(make_event().to_dict(), time.time()) for _ in range(3)]
        with store.begin() as connection:
            write_batch(connection, batch, "n:1", hooks, route=route)
            staging = [connection.exec_driver_sql(f"SELECT to_regclass('pg_temp.{t}_stage')")
                       .scalar() for t in (events.name, deliveries.name)]
            assert staging == [None, None]  # never created: the rows went straight in
            assert connection.execute(
                sa.select(sa.func.count()).select_from(deliveries)).scalar() == 3
        assert route.straight(events.name) and route.straight(deliveries.name)
        store.close()


def test_text_with_nul_meeting_existing_rows_is_written_without_the_byte(history):
    from shared.history import show_event
    from shared.history.dialect import CopyRoute
    from shared.history.writes import write_batch

    store = HistoryStore(history["url"])
    hooks = [EndpointConfig(name="hook", url="http://x/")]
    route = CopyRoute()
    event = make_event().to_dict()
    with store.begin() as connection:
        write_batch(connection, [settled(event, time.time())], "n:1", hooks, route=route)
    odd = AttemptRecord(started=time.time(), duration_ms=1.0, request_headers={}, status=200,
                        response_body="a\x00b")
    with store.begin() as connection:
        write_batch(connection, [Settled("hook", event, "manifest.push", "delivered",
                                         time.time(), odd, None, True)], "n:1", hooks,
                    route=route)
    (delivery,) = show_event(store, event["id"]).deliveries
    assert [a.response_body for a in delivery.attempts] == \
        [None, "ab" if store.dialect == "postgresql" else "a\x00b"]
    store.close()
