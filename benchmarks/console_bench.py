"""The web console's pages at scale: 10,000 repositories and 1 million deliveries in history.

Run by hand (not a test), from the repository root: ``.venv/bin/python benchmarks/console_bench.py``
(``--history-url postgresql://127.0.0.1:5432/test`` for the history on PostgreSQL, in a schema of
its own, dropped at the end). It

1. lays out ``--repositories`` repositories (``team-NNN/app-NN``, tags ``v1`` and ``latest`` of
   one small image) directly in the filesystem storage layout the registry serves (the reference's);
2. fills the delivery history through the notifier's own write path
   (``shared.history.writes.write_batch``): ``--events`` push and pull events over the last 7 days
   on those repositories, each settled at ``--endpoints`` endpoints (1 million deliveries by
   default, every one but the filtered with its attempt row; on PostgreSQL then analysed, as
   autovacuum would), and parks ``--dead-letters`` dead letters per endpoint on the broker;
3. starts ``registry serve`` in embedded mode with the console beside it (htpasswd, the signed-in
   user an operator; the sample config's logging, ``info`` with the access log), signs in, and
   requests every page and its ``/api`` twin: once cold (the console's caches empty for it),
   then ``--requests`` times warm. The figure is the console's own time (its ``Server-Timing``
   header: routing, the registry's and the history's answers, rendering); the client's wall
   time is printed beside it.

It prints a table and the load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from kombu import Producer  # noqa: E402

from shared.broker import (  # noqa: E402
    HEADER_ATTEMPTS,
    HEADER_ERROR,
    HEADER_ERROR_CLASS,
    HEADER_ROUTING_KEY,
    HEADER_STATUS,
)
from shared.config import load_config  # noqa: E402
from shared.history import open_store  # noqa: E402
from shared.history.records import AttemptRecord, Settled  # noqa: E402
from shared.history.writes import heartbeat, write_batch  # noqa: E402
from shared.operations.publishing import broker  # noqa: E402
from tests.conftest import postgres_schema  # noqa: E402
from tests.e2e.console_support import sign_in, write_htpasswd  # noqa: E402
from tests.e2e.procs import free_port, registry_command  # noqa: E402

USER, PASSWORD = "bench", "bench-pw"
# Users whose first request is a search right after signing in.
NEWCOMERS = {"newcomer": "newcomer-pw", "newcomer-2": "newcomer-2-pw"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DAY = 86400.0


# ---------------------------------------------------------------- repositories on disk


def repository_name(i: int) -> str:
    return f"team-{i // 100:03d}/app-{i % 100:02d}"


def _blob(root: Path, data: bytes) -> str:
    hexdigest = hashlib.sha256(data).hexdigest()
    folder = root / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").write_bytes(data)
    return f"sha256:{hexdigest}"


def _link(path: Path, digest: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "link").write_text(digest)


def lay_out_repositories(root: Path, count: int) -> None:
    """``count`` repositories with tags v1 and latest of one image."""
    layer = os.urandom(2048)
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-12-01T00:00:00Z",
                         "config": {"Cmd": ["/app"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
    layer_digest, config_digest = _blob(root, layer), _blob(root, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(layer)}],
    }).encode()
    manifest_digest = _blob(root, manifest)
    hexes = {d: d.split(":")[1] for d in (layer_digest, config_digest, manifest_digest)}
    for i in range(count):
        repo = root / "docker/registry/v2/repositories" / repository_name(i)
        for digest in (layer_digest, config_digest):
            _link(repo / "_layers/sha256" / hexes[digest], digest)
        _link(repo / "_manifests/revisions/sha256" / hexes[manifest_digest], manifest_digest)
        for tag in ("v1", "latest"):
            _link(repo / "_manifests/tags" / tag / "current", manifest_digest)
            _link(repo / "_manifests/tags" / tag / "index/sha256" / hexes[manifest_digest],
                  manifest_digest)


# ---------------------------------------------------------------- the history


def event(rng: random.Random, stamp: float, repositories: int) -> tuple[dict, str]:
    repository = repository_name(rng.randrange(repositories))
    tag = rng.choice(["v1", "latest"])
    # One digest per repository and tag: as many events name it as push or pull that tag.
    digest = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    action = rng.choices(["push", "pull"], [1, 2])[0]
    event_id = str(uuid.UUID(int=rng.getrandbits(128)))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e9):09d}Z"
    body = {
        "id": event_id, "timestamp": iso, "action": action,
        "target": {"mediaType": OCI_MANIFEST, "size": 557, "digest": digest, "length": 557,
                   "repository": repository,
                   "url": f"http://registry:5000/v2/{repository}/manifests/{digest}",
                   "tag": tag},
        "request": {"id": str(uuid.UUID(int=rng.getrandbits(128))), "addr": "10.0.0.7:51234",
                    "host": "registry:5000", "method": "PUT" if action == "push" else "GET",
                    "useragent": "containers/5.32 (github.com/containers/image)"},
        "actor": {"name": f"user-{rng.randrange(40)}"},
        "source": {"addr": "registry:5000", "instanceID": "bench-registry"},
    }
    return body, f"manifest.{action}"


def fill_history(config, events: int, repositories: int, batch: int = 4000) -> float:
    """Write the history through the notifier's write path; how long it took."""
    store = open_store(config)
    store.ready()
    endpoints = config.notifications.endpoints
    rng = random.Random(17)
    now = time.time()
    start = now - 7 * DAY
    headers = {"Content-Type": "application/json", "User-Agent": "registry-notifier/0.1",
               "Authorization": "***"}
    began = time.perf_counter()
    items: list[Settled] = []
    known: set[str] = set()
    report = 25_000
    for i in range(events):
        stamp = start + (now - 60 - start) * i / events
        body, routing_key = event(rng, stamp, repositories)
        for endpoint in endpoints:
            roll = rng.random()
            at = stamp + rng.uniform(0.01, 0.4)
            if body["action"] == "pull" and endpoint.name == "ci":
                items.append(Settled(endpoint.name, body, routing_key, "filtered", at))
                continue
            if roll < 0.02:
                attempt = AttemptRecord(at, rng.uniform(1, 30), headers, 503, {"Server": "r"},
                                        "down for maintenance", "status", "HTTP 503")
                state = "dead"
            elif roll < 0.025:
                attempt = AttemptRecord(at, 2000.0, headers, None, None, None, "timeout",
                                        "timeout after 2.0s")
                state = "retrying"
            else:
                attempt = AttemptRecord(at, rng.uniform(1, 30), headers, 200, {"Server": "r"},
                                        "ok")
                state = "delivered"
            items.append(Settled(endpoint.name, body, routing_key, state, at, attempt))
        if len(items) >= batch or i == events - 1:
            with store.begin() as connection:
                write_batch(connection, items, "bench-notifier:1", endpoints, known)
            items.clear()
            if i + 1 >= report:
                print(f"  history: {i + 1:,} events written "
                      f"({time.perf_counter() - began:.0f} s)", flush=True)
                report += 25_000
    with store.begin() as connection:
        heartbeat(connection, "bench-notifier:1", "bench", 1, now - 3600)
        if store.dialect == "postgresql":
            # What autovacuum does on its own once the rows are in: without statistics for a
            # million rows loaded at once, PostgreSQL plans sequential scans.
            for table in ("history_events", "history_deliveries", "history_attempts"):
                connection.execute(sa.text(f"ANALYZE {table}"))
    store.close()
    return time.perf_counter() - began


def park_dead_letters(config, per_endpoint: int) -> None:
    rng = random.Random(5)
    endpoints = [e for e in config.notifications.endpoints if not e.disabled]
    with broker(config, endpoints) as (connection, topology):
        producer = Producer(connection.channel(), serializer="json")
        for endpoint in endpoints:
            for _ in range(per_endpoint):
                body, routing_key = event(rng, time.time() - rng.uniform(0, DAY), 10_000)
                producer.publish(body, exchange=topology.dead_exchange,
                                 routing_key=endpoint.name, delivery_mode=2, retry=False,
                                 headers={HEADER_ROUTING_KEY: routing_key, HEADER_ATTEMPTS: 5,
                                          HEADER_ERROR: "HTTP 503 Service Unavailable",
                                          HEADER_ERROR_CLASS: "status", HEADER_STATUS: 503})


# ---------------------------------------------------------------- measuring


def server_ms(r: requests.Response) -> float:
    timing = r.headers.get("Server-Timing", "")
    return float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")


def measure(session: requests.Session, url: str, warm: int) -> dict:
    began = time.perf_counter()
    first = session.get(url)
    cold_wall = (time.perf_counter() - began) * 1000
    if first.status_code != 200:
        raise SystemExit(f"{url}: {first.status_code} {first.text[:300]}")
    server, wall = [], []
    for _ in range(warm):
        began = time.perf_counter()
        r = session.get(url)
        wall.append((time.perf_counter() - began) * 1000)
        assert r.status_code == 200, (url, r.status_code)
        server.append(server_ms(r))
    server.sort()
    return {"cold": server_ms(first), "cold_wall": cold_wall,
            "median": statistics.median(server), "p95": server[int(0.95 * (len(server) - 1))],
            "max": server[-1], "wall": statistics.median(wall), "bytes": len(first.content)}


def start_registry(config_path: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([*registry_command(), "serve", str(config_path)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer")
        time.sleep(0.2)


def main() -> None:
    args = arguments()
    if args.history_url and not (args.workdir and Path(args.workdir, "config.yml").exists()):
        with postgres_schema(args.history_url) as url:  # a schema of its own, dropped after
            args.history_url = url
            run(args)
    else:
        run(args)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=250_000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--dead-letters", type=int, default=100, help="per endpoint")
    parser.add_argument("--requests", type=int, default=20, help="warm requests per page")
    parser.add_argument("--history-url", help="PostgreSQL (default: SQLite under the root)")
    parser.add_argument("--workdir", help="reuse a laid-out folder (skips steps 1 and 2)")
    parser.add_argument("--keep", action="store_true", help="keep the folder")
    return parser.parse_args()


def run(args: argparse.Namespace) -> None:
    print(f"load average before: {os.getloadavg()}", flush=True)
    reuse = bool(args.workdir and Path(args.workdir, "config.yml").exists())
    work = Path(args.workdir or tempfile.mkdtemp(prefix="console-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "storage"
    api_port, console_port = free_port(), free_port()
    names = ["ci", "audit", "chat", "mirror", "search", "billing"][:args.endpoints]
    config = {
        "version": 0.1,
        # The sample config's logging (config/registry.yml): info, the access log on.
        "log": {"level": "info"},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{api_port}", "secret": "console-bench-secret"},
        "auth": {"htpasswd": {"realm": "bench", "path": str(work / "htpasswd")}},
        "notifications": {
            # Nothing listens there: the console's reads publish nothing to deliver anyway.
            "endpoints": [{"name": n, "url": f"http://127.0.0.1:9/{n}", "timeout": "1s",
                           "headers": {"Authorization": ["Bearer bench-token"]},
                           **({"ignore": {"actions": ["pull"]}} if n == "ci" else {})}
                          for n in names],
            **({"history": {"url": args.history_url}} if args.history_url else {}),
        },
        "console": {"addr": f"127.0.0.1:{console_port}", "operators": [USER]},
    }
    config_path = work / "config.yml"
    if reuse:
        old = yaml.safe_load(config_path.read_text())
        old["http"]["addr"], old["console"]["addr"] = config["http"]["addr"], \
            config["console"]["addr"]
        config = old
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    write_htpasswd(work / "htpasswd", {USER: PASSWORD, **NEWCOMERS})
    loaded = load_config(str(config_path))

    if not reuse:
        began = time.perf_counter()
        lay_out_repositories(root, args.repositories)
        print(f"{args.repositories:,} repositories laid out in {time.perf_counter() - began:.1f} s",
              flush=True)
        took = fill_history(loaded, args.events, args.repositories)
        print(f"{args.events:,} events, {args.events * len(names):,} deliveries written through "
              f"write_batch in {took:.0f} s ({args.events * len(names) / took:,.0f} deliveries/s)",
              flush=True)
        park_dead_letters(loaded, args.dead_letters)
        print(f"{args.dead_letters} dead letters parked per endpoint", flush=True)

    proc = start_registry(config_path, work / "registry.log")
    console = f"http://127.0.0.1:{console_port}"
    try:
        wait_for(f"http://127.0.0.1:{api_port}/v2/")
        wait_for(f"{console}/health")
        session, r = sign_in(console, USER, PASSWORD)
        assert r.status_code == 303, r.text
        began = time.perf_counter()
        catalog = requests.get(f"http://127.0.0.1:{api_port}/v2/_catalog", params={"n": 25},
                               auth=(USER, PASSWORD))
        print(f"registry GET /v2/_catalog?n=25 over {args.repositories:,} repositories: "
              f"{(time.perf_counter() - began) * 1000:.0f} ms (the registry walks them all)")
        assert catalog.status_code == 200
        some = session.get(f"{console}/api/events", params={"limit": 1}).json()["items"][0]
        dead = session.get(f"{console}/api/deliveries",
                           params={"state": "dead", "limit": 1}).json()["items"][0]
        middle = repository_name(args.repositories // 2)
        pages = [
            ("/", "overview"),
            ("/api/overview", ""),
            ("/repositories", "first page (one catalog page)"),
            (f"/repositories?last={middle}", "a page in the middle"),
            ("/repositories?q=app-42", "search (every name, cached)"),
            ("/api/repositories?q=app-42", ""),
            (f"/repositories/{middle}", "tags, layers, deliveries by tag"),
            (f"/api/repositories/{middle}", ""),
            ("/events", "newest 25, bodies in 3 formats"),
            (f"/events?repository={some['repository']}", "by repository"),
            ("/events?repository=team-04*&action=push&since=2h", "glob, action, time"),
            (f"/events?digest={some['digest']}&since=1h", "by digest, last hour"),
            ("/api/events", ""),
            ("/endpoints", "broker counts, 1 h figures"),
            ("/endpoints/audit", "summary, 25 deliveries"),
            ("/endpoints/audit?state=dead", "dead ones"),
            ("/api/endpoints", ""),
            (f"/deliveries/{dead['event_id']}", "attempts, curl, bodies"),
            (f"/api/deliveries/{dead['event_id']}", ""),
            ("/api/deliveries?state=dead&endpoint=chat", ""),
            ("/deadletters", f"{args.dead_letters} parked per endpoint, 25 read"),
            ("/deadletters?endpoint=audit&status=503", "filtered"),
            ("/api/deadletters", ""),
        ]
        print(f"load average at start of requests: {os.getloadavg()}", flush=True)
        rows = []
        for path, what in pages:
            figures = measure(session, f"{console}{path}", args.requests)
            rows.append((path, what, figures))
            print(f"  {path}: cold {figures['cold']:.0f} ms, warm median {figures['median']:.1f} ms",
                  flush=True)
        # The table's search found every name read: the sign-in and the repository list start
        # reading them. A new session's first request, a search right after signing in, comes
        # while they are read: one with many matches (its first page needs the first few
        # catalog pages), one with a single match (it needs every name).
        first_searches = []
        for (user, password), query in zip(NEWCOMERS.items(), ["app-42", middle], strict=True):
            newcomer, r = sign_in(console, user, password)
            assert r.status_code == 303, r.text
            found = newcomer.get(f"{console}/repositories", params={"q": query})
            assert found.status_code == 200, found.status_code
            first_searches.append((query, server_ms(found)))
        load = os.getloadavg()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()

    history = "PostgreSQL" if args.history_url else "SQLite (embedded)"
    print(f"\n{args.repositories:,} repositories, {args.events * len(names):,} deliveries "
          f"({args.events:,} events x {len(names)} endpoints, 7 days), history on {history}; "
          f"console: 1 gunicorn worker, 8 threads; {args.requests} warm requests per page")
    print("server-side ms (Server-Timing): cold = first request, caches empty; warm = the rest")
    print(f"{'page':<58} {'cold':>7} {'median':>7} {'p95':>7} {'max':>7} {'wall':>7} {'KiB':>6}")
    for path, what, f in rows:
        label = f"{path}" + (f"  ({what})" if what else "")
        print(f"{label[:58]:<58} {f['cold']:>7.0f} {f['median']:>7.1f} {f['p95']:>7.1f} "
              f"{f['max']:>7.1f} {f['wall']:>7.1f} {f['bytes'] / 1024:>6.0f}")
    for query, ms in first_searches:
        print(f"a new session's first request, /repositories?q={query} right after signing in: "
              f"{ms:.0f} ms")
    slowest = max(rows, key=lambda r: r[2]["max"])
    print(f"\nslowest warm request: {slowest[0]} {slowest[2]['max']:.1f} ms; "
          f"load average at the end: {load}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
