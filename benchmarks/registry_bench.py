"""Registry throughput, this registry against the reference (distribution's docker-registry).

Run by hand (not a test): ``.venv/bin/python benchmarks/registry_bench.py`` from the repository
root. Both servers run on this machine at the same time, each over a fresh filesystem root, with
the same config: each registry's default logging (level ``info``, access log on: the sample
config's and the reference's defaults) unless ``--quiet-logs``. Every measurement alternates
between them round by round, so drift in the machine's load hits both alike. Figures printed
(median of the rounds, min-max beside it):

- 256 MiB monolithic upload (POST, then PUT ?digest= with the body streamed from a file), MiB/s
- GET of that blob right after its push, then the same GET repeated, MiB/s
- manifest PUT and manifest GET, requests/s, at 1 and 8 keep-alive connections, from ``wrk``
- manifest GET with this registry's access log off, against on (what the access log costs)
- the CPU the load generator took, beside the servers' (from the kernel's accounting)
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import requests
from blob_client import get_discarding
from cpu_meter import CpuMeter, process_tree
from wrk_load import LoadResult, manifest_get_load, manifest_put_load, wrk_path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.procs import RegistryProcess  # noqa: E402

MiB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
IO_BLOCK = 1 * MiB
# The old default, now --quiet-logs: what the servers cost with (almost) nothing logged.
QUIET_LOGS = {"log": {"level": "error", "accesslog": {"disabled": True}}}
NO_ACCESS_LOG = {"log": {"level": "info", "accesslog": {"disabled": True}}}
MANIFEST_REPO = "bench/manifests"


# ------------------------------------------------------------------ helpers


def location_of(reg: RegistryProcess, response) -> str:
    loc = response.headers["Location"]
    return loc.split(reg.host, 1)[1] if loc.startswith("http") else loc


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(IO_BLOCK):
            h.update(block)
    return "sha256:" + h.hexdigest()


def make_big_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // IO_BLOCK):
            f.write(os.urandom(IO_BLOCK))


def new_content(path: Path) -> str:
    """Change the file's first bytes so no round re-uploads a blob the registry holds."""
    with open(path, "r+b") as f:
        f.write(os.urandom(32))
    return sha256_file(path)


# ------------------------------------------------------------------ blob figures


def upload_once(reg: RegistryProcess, repo: str, path: Path, digest: str) -> float:
    """POST a session, then PUT ?digest= with the file streamed; returns seconds."""
    size = path.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=600, blocksize=IO_BLOCK)
    start = time.perf_counter()
    conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 202:
        raise RuntimeError(f"{reg.kind}: POST upload -> {resp.status}")
    location = resp.getheader("Location")
    path_qs = location.split(reg.host, 1)[1] if location.startswith("http") else location
    sep = "&" if "?" in path_qs else "?"
    with open(path, "rb") as body:
        conn.request("PUT", f"{path_qs}{sep}digest={digest}", body=body, headers={
            "Content-Length": str(size), "Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if resp.status != 201:
        raise RuntimeError(f"{reg.kind}: PUT upload -> {resp.status}")
    return elapsed


def download_once(reg: RegistryProcess, repo: str, digest: str, size: int,
                  discard: bool = True) -> float:
    """GET the blob; returns seconds. ``discard``: the body spliced to /dev/null (blob_client),
    else read into a reused 1 MiB buffer as a client that uses the bytes would."""
    if discard:
        start = time.perf_counter()
        got = get_discarding("127.0.0.1", reg.port, f"/v2/{repo}/blobs/{digest}")
        elapsed = time.perf_counter() - start
        if got != size:
            raise RuntimeError(f"{reg.kind}: GET blob returned {got} of {size} bytes")
        return elapsed
    conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=600)
    buf = memoryview(bytearray(IO_BLOCK))
    start = time.perf_counter()
    conn.request("GET", f"/v2/{repo}/blobs/{digest}")
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"{reg.kind}: GET blob -> {resp.status}")
    got = 0
    while n := resp.readinto(buf):
        got += n
    elapsed = time.perf_counter() - start
    conn.close()
    if got != size:
        raise RuntimeError(f"{reg.kind}: GET blob returned {got} of {size} bytes")
    return elapsed


def own_cpu() -> float:
    """This process's CPU seconds: the blob figures' client."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------ manifest figures


def seed_manifest_repo(reg: RegistryProcess, repo: str) -> dict:
    """Push a config and a layer; returns the manifest template referencing them."""
    descs = {}
    for name, data, media in (("config", b'{"architecture":"amd64","os":"linux"}', OCI_CONFIG),
                              ("layer", os.urandom(1024), "application/vnd.oci.image.layer.v1.tar")):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = requests.post(f"{reg.url}/v2/{repo}/blobs/uploads/")
        r.raise_for_status()
        put = requests.put(reg.url + location_of(reg, r), params={"digest": digest}, data=data)
        if put.status_code != 201:
            raise RuntimeError(f"{reg.kind}: seed blob -> {put.status_code} {put.text}")
        descs[name] = {"mediaType": media, "digest": digest, "size": len(data)}
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descs["config"],
            "layers": [descs["layer"]]}


def run_clients(clients: int, seconds: float, work) -> tuple[float, int]:
    """Each client thread calls ``work(session, client, i)`` until time is up; returns req/s."""
    counts, errors = [0] * clients, [0] * clients
    stop_at = time.perf_counter() + seconds
    barrier = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        with requests.Session() as session:
            barrier.wait()
            i = 0
            while time.perf_counter() < stop_at:
                if work(session, c, i):
                    counts[c] += 1
                else:
                    errors[c] += 1
                i += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return sum(counts) / elapsed, sum(errors)


# ------------------------------------------------------------------ the run


class Figures:
    """Per registry and figure: the values of the rounds, and per figure the load generator's
    CPU against the server's (to report the client's share)."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, list[float]]] = {}
        self.errors: dict[str, int] = {}
        self.client_cpu: dict[str, list[float]] = {}  # figure -> client CPU / wall
        self.client_share: dict[str, list[float]] = {}  # figure -> client / (client + server)

    def record(self, kind: str, figure: str, value: float, errors: int = 0) -> None:
        self.values.setdefault(kind, {}).setdefault(figure, []).append(value)
        self.errors[kind] = self.errors.get(kind, 0) + errors

    def record_cpu(self, figure: str, client: float, server: float, wall: float) -> None:
        self.client_cpu.setdefault(figure, []).append(client / wall)
        self.client_share.setdefault(figure, []).append(client / max(client + server, 1e-9))


def summarize(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f} ({min(values):.0f}-{max(values):.0f})"


def alternating(regs: list, n: int) -> list:
    return regs if n % 2 == 0 else list(reversed(regs))


def blob_rounds(regs, meter, figures, tmp: Path, size_mib: int, rounds: int,
                discard: bool) -> None:
    """Each round: fresh random bytes; per registry an upload, the GET right after it (the
    pull that follows a CI push) and the same GET again (a blob that stayed hot)."""
    big = tmp / "big.bin"
    size = size_mib * MiB
    make_big_file(big, size)
    names = (f"{size_mib} MiB upload, MiB/s", f"{size_mib} MiB GET after push, MiB/s",
             f"{size_mib} MiB GET repeated, MiB/s")
    try:
        for n in range(rounds):
            digest = new_content(big)  # new bytes each round, hashed outside the timing
            for reg in alternating(regs, n):
                repo = f"bench/blob{n}"
                steps = (partial(upload_once, reg, repo, big, digest),
                         partial(download_once, reg, repo, digest, size, discard),
                         partial(download_once, reg, repo, digest, size, discard))
                for name, step in zip(names, steps, strict=True):
                    server, client = meter.read()[reg.label], own_cpu()
                    seconds = step()
                    server, client = meter.read()[reg.label] - server, own_cpu() - client
                    figures.record(reg.label, name, size / MiB / seconds)
                    figures.record_cpu(name, client, server, seconds)
                    print(f"  round {n} {reg.label:9} {name:32} {size / MiB / seconds:8.1f}")
    finally:
        big.unlink()


def manifest_rounds(regs, no_access_log, meter, figures, rounds: int, seconds: float) -> None:
    """PUT and GET at 1 and 8 connections; the registry without access log takes the GETs too,
    in the same alternation, so on/off are measured side by side."""
    templates = {}
    for reg in [*regs, *([no_access_log] if no_access_log else [])]:
        templates[reg.label] = seed_manifest_repo(reg, MANIFEST_REPO)
        r = requests.put(f"{reg.url}/v2/{MANIFEST_REPO}/manifests/latest",
                         data=json.dumps(templates[reg.label]),
                         headers={"Content-Type": OCI_MANIFEST})
        if r.status_code != 201:
            raise RuntimeError(f"{reg.label}: manifest PUT -> {r.status_code} {r.text}")

    def measured(reg, figure: str, load) -> LoadResult:
        before = meter.read()[reg.label]
        result: LoadResult = load()
        server = meter.read()[reg.label] - before
        figures.record(reg.label, figure, result.rate, result.errors)
        figures.record_cpu(figure, result.cpu_seconds, server, result.seconds)
        print(f"  {reg.label:9} {figure:36} {result.rate:8.1f}  (wrk {result.cpu_seconds:.2f} "
              f"s CPU, server {server:.2f} s, errors {result.errors})")
        return result

    for clients in (1, 8):
        for n in range(rounds):
            for reg in alternating(regs, n):
                measured(reg, f"manifest PUT req/s, {clients} conn", partial(
                    manifest_put_load, reg.url, MANIFEST_REPO, templates[reg.label],
                    f"c{clients}r{n}", clients, seconds))
            get_regs = alternating([*regs, *([no_access_log] if no_access_log else [])], n)
            for reg in get_regs:
                measured(reg, f"manifest GET req/s, {clients} conn", partial(
                    manifest_get_load, reg.url, MANIFEST_REPO, "latest", OCI_MANIFEST, clients,
                    seconds))


def report(kinds: list[str], figures: Figures, args) -> None:
    logs = "quiet logs (error, no access log)" if args.quiet_logs else \
        "default logging (info, access log on)"
    print(f"\n{os.cpu_count()} CPUs, {args.rounds} rounds, {logs}; median (min-max)")
    names = {"ours": "this registry", "reference": "reference", "ours-noaccess": "ours, no access log"}
    header = "".join(f"{names[k]:>24}" for k in kinds[:2])
    pair = len(kinds) >= 2 and kinds[:2] == ["ours", "reference"]
    print(f"{'figure':36}{header}" + ("   ratio" if pair else ""))
    for figure in figures.values[kinds[0]]:
        cells = "".join(f"{summarize(figures.values[k][figure]):>24}" for k in kinds[:2]
                        if figure in figures.values.get(k, {}))
        ratio = ""
        if pair:
            a, b = (statistics.median(figures.values[k][figure]) for k in kinds[:2])
            ratio = f" {a / b:6.2f}x"
        print(f"{figure:36}{cells}{ratio}")
    off = figures.values.get("ours-noaccess", {})
    for figure, values in off.items():
        on = statistics.median(figures.values["ours"][figure])
        print(f"{figure + ', access log off':52}{summarize(values):>24}   on/off "
              f"{on / statistics.median(values):.2f}")
    print("\nload generator's CPU (median of the rounds): % of one core while it ran, and its "
          "share of client + server CPU")
    for figure, loads in figures.client_cpu.items():
        print(f"  {figure:36} {100 * statistics.median(loads):5.1f}% of a core, "
              f"{100 * statistics.median(figures.client_share[figure]):4.1f}% of the CPU spent")
    print("failed requests: " + ", ".join(f"{names[k]} {figures.errors.get(k, 0)}"
                                          for k in kinds))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=256, help="blob size (MiB)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per figure and registry")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of a req/s round")
    ap.add_argument("--dir", default=None,
                    help="where the storage roots go (default: the temporary directory); "
                         "/dev/shm takes the disk out of the figures")
    ap.add_argument("--registries", default="ours,reference",
                    help="comma-separated: ours, reference (both by default)")
    ap.add_argument("--quiet-logs", action="store_true",
                    help="both servers at log level error with the access log off (the old "
                         "default; no access-log figure)")
    ap.add_argument("--get-client", choices=("splice", "read"), default="splice",
                    help="blob GETs: splice the body to /dev/null in the kernel (default: the "
                         "client is not the bottleneck), or read every byte into a buffer")
    ap.add_argument("--skip", default="",
                    help="comma-separated parts to leave out: blobs, manifests")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.registries.split(",") if k.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    wrk_path()  # fail before starting anything when wrk is missing

    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-", dir=args.dir))
    logs = QUIET_LOGS if args.quiet_logs else {}  # {}: RegistryProcess's default logging
    regs = [RegistryProcess(kind=kind, root=tmp / f"{kind}-root", workdir=tmp / "procs",
                            extra_config=logs) for kind in kinds]
    no_access_log = None
    if "ours" in kinds and not args.quiet_logs:
        no_access_log = RegistryProcess(kind="ours", root=tmp / "noaccess-root",
                                        workdir=tmp / "noaccess-procs", extra_config=NO_ACCESS_LOG)
    every = [*regs, *([no_access_log] if no_access_log else [])]
    for reg in every:  # the name figures are kept under
        reg.label = "ours-noaccess" if reg is no_access_log else reg.kind
    meter = CpuMeter({r.label: (lambda r=r: process_tree(r.proc.pid)) for r in every})
    figures = Figures()
    try:
        for reg in every:
            reg.start()
        print(", ".join(f"{r.label} {r.url}" for r in every) + f"; storage under {tmp}")
        if "blobs" not in skip:
            blob_rounds(regs, meter, figures, tmp, args.size_mib, args.rounds,
                        args.get_client == "splice")
        if "manifests" not in skip:
            manifest_rounds(regs, no_access_log, meter, figures, args.rounds, args.seconds)
    finally:
        for reg in every:
            reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # gigabytes of blobs, in RAM under /dev/shm
    report([r.label for r in every], figures, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
