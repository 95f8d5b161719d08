"""The delivery history's cost and its queries at scale.

Run by hand (not a test), from the repository root, with the machine's RabbitMQ and PostgreSQL:
``.venv/bin/python benchmarks/history_bench.py``. Two parts:

1. Backlog drain with the history on (PostgreSQL) and off, in the same run: a backlog of
   ``--events`` manifest push events waits in an endpoint's RabbitMQ queue, then one
   ``registry notifier`` process delivers it to the Node receiver (``receiver.js``), which holds
   its answers until the notifier has started (its history writer process too); the drain rate
   is events / (last arrival - the receiver answering again), and the CPU per event of the
   notifier, its writer process and its PostgreSQL sessions is read from /proc over the drain.
   Rounds alternate which mode goes first. The notifier logs at the sample config's level
   (``config/registry.yml``: info, a line per delivery), as users run it; ``--quiet-logs`` runs
   it at warn.
   Target: on >= 90% of off. With the history on, also how long after the last delivery the
   history holds every delivery.
2. ``deliveries list`` with 1 million deliveries in the history (100,000 events fanned out to
   10 endpoints over 7 days, 10% of them with an attempt row), on PostgreSQL and SQLite: one
   filtered page (100 rows) per filter the command and the console use, median of 5, in
   process; then the whole ``registry deliveries CONFIG list ... --json`` command (a new Python
   process each time). Target: a filtered page under 200 ms. And the console's other reads
   (event search, endpoint stats, overview) on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import yaml
from cpu_meter import process_cpu_seconds, process_tree
from history_fixtures import event, history_backends, pg_schema
from kombu import Producer

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from shared.broker import HEADER_ATTEMPTS, HEADER_ROUTING_KEY, connect, topology_for  # noqa: E402
from shared.config import load_config  # noqa: E402
from shared.history import HistoryStore, queries  # noqa: E402
from shared.history.schema import attempts, deliveries, events  # noqa: E402
from tests.e2e.procs import free_port, registry_command  # noqa: E402

RABBIT = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
# The notifier logs as users run it: the sample config's level (info: a line per delivery).
SAMPLE_LOG_LEVEL = yaml.safe_load((REPO_ROOT / "config" / "registry.yml").read_text())["log"]["level"]


def receiver() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["node", str(Path(__file__).with_name("receiver.js")), str(port)])
    base = f"http://127.0.0.1:{port}"
    deadline = time.perf_counter() + 10
    while True:
        try:
            requests.get(f"{base}/count", timeout=1)
            return proc, base
        except requests.ConnectionError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.05)


def cpu(pid: int, since: float) -> dict[str, float]:
    return {"notifier": process_cpu_seconds(pid),
            "writer": sum(process_cpu_seconds(p) for p in process_tree(pid) if p != pid),
            "database": sum(process_cpu_seconds(p) for p in history_backends(since))}


def drain_once(workdir: Path, base: str, history: dict, count: int, label: str,
               cpus: str | None = None, log_level: str = SAMPLE_LOG_LEVEL) -> dict:
    name = f"drain-{uuid.uuid4().hex[:8]}"
    exchange = f"bench-{name}.events"
    doc = {"version": 0.1, "log": {"level": log_level},
           "storage": {"filesystem": {"rootdirectory": str(workdir / name)}},
           "http": {"addr": f"127.0.0.1:{free_port()}",
                    "debug": {"addr": f"127.0.0.1:{free_port()}"}},
           "notifications": {"broker": {"url": RABBIT, "exchange": exchange},
                             "history": history,
                             "endpoints": [{"name": name, "url": f"{base}/hook", "timeout": "30s",
                                            "threshold": 5, "backoff": "1s"}]}}
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump(doc))
    config = load_config(path, environ={})
    topology = topology_for(config)
    tags = [f"{label}-{i}" for i in range(count)]
    session = requests.Session()
    arrived_before = int(session.get(f"{base}/count", timeout=10).text)
    with connect(config, purpose="consume") as connection:
        topology.declare(connection, config.notifications.endpoints)
        producer = Producer(connection.channel(), serializer="json")
        for tag in tags:
            producer.publish(event(tag), exchange=topology.exchange, routing_key="manifest.push",
                             headers={HEADER_ROUTING_KEY: "manifest.push", HEADER_ATTEMPTS: 0},
                             delivery_mode=2, retry=False)
    # The backlog waits in the queue; the notifier starts, takes what it may hold (its
    # prefetch) and waits for the receiver, which holds every answer until the notifier's
    # start-up (its writer process too) is over: then the drain is measured.
    session.post(f"{base}/gate/close").raise_for_status()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    started = time.time()
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        pinned = ["taskset", "-c", cpus] if cpus else []
        notifier = subprocess.Popen([*pinned, *registry_command(), "notifier", str(path)], stdout=log,
                                    stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                    start_new_session=True)
    try:
        deadline = time.perf_counter() + 60
        while int(session.get(f"{base}/held", timeout=10).text) < 8:  # its 8 delivery threads
            if time.perf_counter() > deadline or notifier.poll() is not None:
                raise RuntimeError(f"notifier did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        time.sleep(3)
        cpu_before = cpu(notifier.pid, started)
        opened = time.perf_counter()  # receiver.js stamps arrivals on this clock
        session.post(f"{base}/gate/open").raise_for_status()
        # Polled by count (a number), the arrival times read once at the end: every earlier
        # round's arrivals in one JSON answer every 0.2 s took a growing share of the cores
        # the drain is measured on (rounds ran slower one after the other).
        deadline = time.perf_counter() + 600
        while (arrived := int(session.get(f"{base}/count", timeout=10).text) - arrived_before) < count:
            if time.perf_counter() > deadline or notifier.poll() is not None:
                raise RuntimeError(f"drain {label}: {arrived}/{count} arrived")
            time.sleep(0.2)
        arrivals = session.get(f"{base}/arrivals", timeout=30).json()
        got = [arrivals[t] for t in tags]
        # The held ones arrived (and were stamped) before: from the gate's opening on.
        rate = count / (max(got) - opened)
        caught_up = None
        if not history.get("disabled"):
            store = HistoryStore(history["url"])
            last = max(got)
            while True:
                page = queries.list_deliveries(store, endpoint=name, state="delivered", limit=1)
                if page.items:
                    import sqlalchemy as sa

                    with store.begin() as c:
                        n = c.execute(sa.select(sa.func.count()).select_from(deliveries)
                                      .where(deliveries.c.endpoint == name,
                                             deliveries.c.state == "delivered")).scalar()
                    if n == count:
                        caught_up = time.perf_counter() - last
                        break
                time.sleep(0.1)
            store.close()
        spent = {k: cpu(notifier.pid, started)[k] - v for k, v in cpu_before.items()}
        return {"rate": rate, "caught_up": caught_up,
                "notifier_us": spent["notifier"] / count * 1e6,
                "writer_us": spent["writer"] / count * 1e6,
                "database_us": spent["database"] / count * 1e6}
    finally:
        notifier.terminate()
        notifier.wait(30)
        with connect(config, purpose="consume") as connection:
            for q in [topology.endpoint_queue(name).name, topology.dead_queue(name).name,
                      *[q.name for q in topology.retry_queues(config.notifications.endpoints[0])],
                      f"registry.endpoints.{exchange}"]:
                topology.delete_queue(connection, q)
            for ex in (topology.exchange, topology.requeue_exchange, topology.delay_exchange,
                       topology.dead_exchange):
                ex(connection.default_channel).delete()


def part_drain(args: argparse.Namespace, workdir: Path) -> None:
    proc, base = receiver()
    url, drop = pg_schema()
    results: dict[str, list[dict]] = {"off": [], "on": []}
    try:
        for r in range(args.rounds):
            order = ["off", "on"] if r % 2 == 0 else ["on", "off"]
            for mode in order:
                history = {"disabled": True} if mode == "off" else {"url": url}
                result = drain_once(workdir, base, history, args.events, f"r{r}{mode}",
                                    args.notifier_cpus, "warn" if args.quiet_logs else
                                    SAMPLE_LOG_LEVEL)
                results[mode].append(result)
                extra = f", history complete {result['caught_up']:.2f} s after the last delivery" \
                    if result["caught_up"] is not None else ""
                print(f"round {r + 1} history {mode:3}: {result['rate']:7.0f} events/s, CPU per "
                      f"event: notifier {result['notifier_us']:.0f} us, its history writer "
                      f"process {result['writer_us']:.0f} us, its database sessions "
                      f"{result['database_us']:.0f} us{extra}", flush=True)
    finally:
        proc.terminate()
        drop()
    off = statistics.median(x["rate"] for x in results["off"])
    on = statistics.median(x["rate"] for x in results["on"])
    print(f"\ndrain of {args.events} events, median of {args.rounds}: history off {off:.0f}/s "
          f"(min-max {min(x['rate'] for x in results['off']):.0f}-"
          f"{max(x['rate'] for x in results['off']):.0f}), history on (PostgreSQL) {on:.0f}/s "
          f"(min-max {min(x['rate'] for x in results['on']):.0f}-"
          f"{max(x['rate'] for x in results['on']):.0f}): on/off = {on / off:.1%} (target >= 90%)")
    cpu_off = statistics.median(x["notifier_us"] for x in results["off"])
    cpu_on = statistics.median(x["notifier_us"] for x in results["on"])
    db_on = statistics.median(x["database_us"] for x in results["on"])
    writer_on = statistics.median(x["writer_us"] for x in results["on"])
    print(f"CPU per event: the notifier process off {cpu_off:.0f} us, on {cpu_on:.0f} us "
          f"(+{cpu_on / cpu_off - 1:.0%}); with the history on, its writer process "
          f"{writer_on:.0f} us and PostgreSQL's sessions {db_on:.0f} us")


# ---------------------------------------------------------------- 1 million deliveries

ENDPOINTS = [f"endpoint-{i}" for i in range(10)]
REPOSITORIES = [f"team-{t}/app-{a}" for t in range(50) for a in range(10)]


def generate(count_events: int, now: float):
    rng = random.Random(7)
    start = now - 7 * 86400
    for i in range(count_events):
        t = start + (now - start) * i / count_events
        repository = rng.choice(REPOSITORIES)
        action = rng.choices(["push", "pull", "delete"], [3, 6, 1])[0]
        tag = f"v{rng.randrange(100)}"
        digest = "sha256:" + uuid.UUID(int=rng.getrandbits(128)).hex * 2
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        actor = f"user-{rng.randrange(40)}"
        body = json.dumps({"id": event_id, "action": action, "target": {
            "repository": repository, "tag": tag, "digest": digest}, "actor": {"name": actor}})
        yield (event_id, t, action, f"manifest.{action}", repository, tag, digest,
               "application/vnd.oci.image.manifest.v1+json", actor, "bench", body)


def fill(store: HistoryStore, count_events: int, now: float) -> None:
    store.ready()
    rng = random.Random(11)
    e_cols = ["id", "time", "action", "routing_key", "repository", "tag", "digest", "media_type",
              "actor", "source", "body"]
    d_cols = ["event_id", "endpoint", "state", "event_time", "action", "repository", "tag",
              "digest", "attempts", "last_status", "updated", "delivered_at", "latency_ms"]
    a_cols = ["event_id", "endpoint", "time", "notifier", "duration_ms", "request_headers",
              "status"]
    states = ["delivered"] * 90 + ["filtered"] * 6 + ["dead"] * 2 + ["retrying"] + ["pending"]

    def rows():
        for ev in generate(count_events, now):
            d_rows, a_rows = [], []
            for endpoint in ENDPOINTS:
                state = rng.choice(states)
                status = {"delivered": 200, "dead": 503, "retrying": 500}.get(state)
                latency = rng.uniform(5, 400) if state == "delivered" else None
                d_rows.append((ev[0], endpoint, state, ev[1], ev[2], ev[4], ev[5], ev[6],
                               1 if status else 0, status, ev[1] + 1,
                               ev[1] + latency / 1000 if latency else None, latency))
                if status and rng.random() < 0.1:
                    a_rows.append((ev[0], endpoint, ev[1] + 0.01, "bench:1", 3.5,
                                   '{"Content-Type":"application/json"}', status))
            yield ev, d_rows, a_rows

    if store.dialect == "postgresql":
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            d_all, a_all = [], []
            with cur.copy(f"COPY history_events ({','.join(e_cols)}) FROM STDIN") as e_copy:
                for ev, d_rows, a_rows in rows():
                    e_copy.write_row(ev)
                    d_all.extend(d_rows)
                    a_all.extend(a_rows)
            with cur.copy(f"COPY history_deliveries ({','.join(d_cols)}) FROM STDIN") as d_copy:
                for row in d_all:
                    d_copy.write_row(row)
            with cur.copy(f"COPY history_attempts ({','.join(a_cols)}) FROM STDIN") as a_copy:
                for row in a_all:
                    a_copy.write_row(row)
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    else:
        with store.begin() as c:
            batch_e, batch_d, batch_a = [], [], []
            for ev, d_rows, a_rows in rows():
                batch_e.append(dict(zip(e_cols, ev, strict=True)))
                batch_d.extend(dict(zip(d_cols, r, strict=True)) for r in d_rows)
                batch_a.extend(dict(zip(a_cols, r, strict=True)) for r in a_rows)
                if len(batch_d) >= 50000:
                    c.execute(events.insert(), batch_e)
                    c.execute(deliveries.insert(), batch_d)
                    if batch_a:
                        c.execute(attempts.insert(), batch_a)
                    batch_e, batch_d, batch_a = [], [], []
            if batch_e:
                c.execute(events.insert(), batch_e)
                c.execute(deliveries.insert(), batch_d)
                if batch_a:
                    c.execute(attempts.insert(), batch_a)
        with store.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")


def timed(fn, repeat: int = 5) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        n = len(getattr(result, "items", result) or [])
    return statistics.median(times), n


def measure(label: str, store_url: str, args: argparse.Namespace, workdir: Path, now: float,
            filters: dict) -> None:
    day = 86400.0
    store = HistoryStore(store_url)
    started = time.perf_counter()
    fill(store, args.list_rows // len(ENDPOINTS), now)
    print(f"\n{label}: {args.list_rows} deliveries written in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    for name, kw in filters.items():
        ms, n = timed(lambda kw=kw: queries.list_deliveries(store, limit=100, **kw))
        print(f"  deliveries list {name:40} {ms:7.1f} ms  ({n} rows)", flush=True)
    first = queries.list_deliveries(store, endpoint="endpoint-3", limit=100)
    ms, n = timed(lambda: queries.list_deliveries(store, endpoint="endpoint-3",
                                                  limit=100, cursor=first.next_cursor))
    print(f"  deliveries list --endpoint, second page          {ms:7.1f} ms  ({n} rows)")
    sample = first.items[0]
    console = {
        "show_event": lambda s=sample: [queries.show_event(store, s.event_id)],
        "search_events repository": lambda: queries.search_events(store, repository="team-7/app-3"),
        "search_events tag + repository": lambda: queries.search_events(
            store, repository="team-7/app-3", tag="v7"),
        "search_events digest": lambda s=sample: queries.search_events(store, digest=s.digest),
        "search_events actor": lambda: queries.search_events(store, actor="user-3"),
        "search_events action + 24h": lambda: queries.search_events(
            store, action="delete", since=now - day),
        "endpoint_stats (10 endpoints, 1 h)": lambda: list(queries.endpoint_stats(
            store, ENDPOINTS).values()),
        "overview (1 h)": lambda: [queries.overview(store)],
    }
    for name, fn in console.items():
        ms, n = timed(fn)
        print(f"  {name:48} {ms:7.1f} ms  ({n} rows)", flush=True)
    config = workdir / f"list-{label}.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {"filesystem": {
        "rootdirectory": str(workdir / "root")}}, "log": {"level": "error"},
        "notifications": {"history": {"url": store_url}}}))
    walls = []
    for _ in range(3):
        start = time.perf_counter()
        out = subprocess.run([*registry_command(), "deliveries", str(config), "list",
                              "--endpoint", "endpoint-3", "--state", "dead", "--json"],
                             capture_output=True, text=True, cwd=REPO_ROOT, check=True)
        walls.append((time.perf_counter() - start) * 1000)
    print(f"  the whole command (new process), --endpoint --state dead: "
          f"{statistics.median(walls):.0f} ms ({len(out.stdout.splitlines())} lines)")
    store.close()


def part_list(args: argparse.Namespace, workdir: Path) -> None:
    now = time.time()
    hour, day = 3600.0, 86400.0
    filters = {
        "no filter": {},
        "--endpoint": {"endpoint": "endpoint-3"},
        "--endpoint --state dead": {"endpoint": "endpoint-3", "state": "dead"},
        "--state dead": {"state": "dead"},
        "--state paused (none)": {"state": "paused"},
        "--repository team-7/*": {"repository": "team-7/*"},
        "--repository team-7/app-3 --endpoint": {"repository": "team-7/app-3",
                                                 "endpoint": "endpoint-3"},
        "--action delete --since 2h": {"action": "delete", "since": now - 2 * hour},
        "--endpoint --since 24h": {"endpoint": "endpoint-3", "since": now - day},
        "--state retrying --since 24h": {"state": "retrying", "since": now - day},
    }
    url, drop = pg_schema()
    stores = {"PostgreSQL": url, "SQLite": f"sqlite:///{workdir / 'list-bench.db'}"}
    try:
        for label, store_url in stores.items():
            measure(label, store_url, args, workdir, now, filters)
    finally:
        drop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20000, help="backlog size of a drain")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quiet-logs", action="store_true",
                    help="the notifier at log level warn (no line per delivery), as this "
                         "benchmark ran until 2026-12-07, instead of the sample config's level")
    ap.add_argument("--notifier-cpus", help="run the notifier (and its writer process) on these "
                    "CPUs only (taskset's list, e.g. 1): how it runs on a dedicated CPU, and "
                    "without the kernel's placement of its threads varying from run to run")
    ap.add_argument("--list-rows", type=int, default=1_000_000)
    ap.add_argument("--part", choices=("all", "drain", "list"), default="all")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="history-bench-"))
    if args.part in ("all", "drain"):
        part_drain(args, workdir)
    if args.part in ("all", "list"):
        part_list(args, workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
