"""What the delivery history costs to write, per delivery, without a drain's noise around it.

Run by hand, from the repository root, with the machine's PostgreSQL:
``.venv/bin/python benchmarks/history_write_bench.py [--baseline DIR]``. Each run is a new
process that hands ``--deliveries`` settled deliveries (the drain's manifest push events, each
delivered at the first attempt with the headers a notifier sends and a receiver answers) to a
real :class:`shared.history.HistoryWriter`, as a notifier does, and waits until its writer
process has written them all to a schema of its own; the CPU per delivery of the handing
process (recording and pickling), of the writer process and of its PostgreSQL session is read
from /proc. With ``--baseline DIR`` (another checkout, e.g. ``git worktree add /tmp/base main``)
the runs alternate between that code and this one, so both are measured in the same conditions.

The drain in ``history_bench.py`` says what a user sees; a round there is decided by the
notifier's own CPU per event, which varies by a third from one process to the next, so a change
to the writer shows here first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cpu_meter import process_cpu_seconds, process_tree
from history_fixtures import PG, event, history_backends, pg_schema

REPO_ROOT = Path(__file__).resolve().parents[1]


def child(count: int) -> dict[str, float]:
    """One run, in this process: the history code is whatever ``sys.path`` finds first."""
    from shared.config import EndpointConfig
    from shared.history import HistoryStore, HistoryWriter, Settled
    from shared.history.metrics import HISTORY_WRITTEN
    from shared.history.records import DELIVERED, AttemptRecord

    url, drop = pg_schema()
    store = HistoryStore(url)
    store.ready()
    records = []
    for i in range(count):
        ev = event(f"w{i}")
        attempt = AttemptRecord(
            started=time.time(), duration_ms=1.2,
            request_headers={"Content-Type": "application/vnd.docker.distribution.events.v1+json",
                             "User-Agent": "registry-notifier/0.1"},
            status=200, response_headers={"Content-Type": "application/json",
                                          "Content-Length": "2", "Connection": "keep-alive",
                                          "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                                          "Keep-Alive": "timeout=5"},
            response_body="{}")
        records.append(Settled("bench", ev, "manifest.push", DELIVERED, time.time(), attempt,
                               fanout=True, body=json.dumps(ev).encode()))
    started = time.time()
    writer = HistoryWriter(store, [EndpointConfig(name="bench", url="http://127.0.0.1:1/")],
                           retention=7 * 86400).start()
    time.sleep(2)  # the writer process has started and connected
    written = HISTORY_WRITTEN._value.get()
    (writer_pid,) = [p for p in process_tree(os.getpid()) if p != os.getpid()]
    backends = history_backends(started)
    before = (time.process_time(), process_cpu_seconds(writer_pid),
              sum(process_cpu_seconds(p) for p in backends))
    for record in records:
        writer.record(record)
    while HISTORY_WRITTEN._value.get() - written < count:
        time.sleep(0.05)
    after = (time.process_time(), process_cpu_seconds(writer_pid),
             sum(process_cpu_seconds(p) for p in backends))
    writer.close()
    store.close()
    drop()
    return {k: (a - b) / count * 1e6
            for k, a, b in zip(("notifier", "writer", "database"), after, before,
                               strict=True)}


def run(tree: Path, count: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, __file__, "--child", str(count)], env=env, cwd=tree,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deliveries", type=int, default=18000)
    ap.add_argument("--runs", type=int, default=4, help="runs of each code")
    ap.add_argument("--baseline", type=Path, help="another checkout to measure alternately")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    trees = {"this": REPO_ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    print(f"{args.deliveries} deliveries per run, PostgreSQL at {PG}")
    for r in range(args.runs):
        for name in (list(trees) if r % 2 == 0 else list(reversed(trees))):
            result = run(trees[name], args.deliveries)
            results[name].append(result)
            print(f"run {r + 1} {name:8}: CPU per delivery: handing over {result['notifier']:.1f}"
                  f" us, writer process {result['writer']:.1f} us, PostgreSQL "
                  f"{result['database']:.1f} us", flush=True)
    for name, rows in results.items():
        figures = ", ".join(
            f"{part} {statistics.median(r[part] for r in rows):.1f} us "
            f"({min(r[part] for r in rows):.1f}-{max(r[part] for r in rows):.1f})"
            for part in ("notifier", "writer", "database"))
        print(f"{name} ({trees[name]}), median of {args.runs}: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
