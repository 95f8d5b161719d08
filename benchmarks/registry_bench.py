"""Registry throughput, this registry against the reference (distribution's docker-registry).

Run by hand (not a test): ``.venv/bin/python benchmarks/registry_bench.py`` from the repository
root. Both servers run on this machine at the same time, each over a fresh filesystem root in
/tmp, and every measurement alternates between them round by round, so drift in the machine's
load hits both alike. Figures printed (median of the rounds, min-max beside it):

- 256 MiB monolithic upload (POST, then PUT ?digest= with the body streamed from a file), MiB/s
- 256 MiB blob GET, MiB/s
- manifest PUT and manifest GET, requests/s, at 1 and 8 concurrent clients (threads, each with
  its own keep-alive ``requests.Session``)
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.procs import RegistryProcess  # noqa: E402

MiB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
IO_BLOCK = 1 * MiB
QUIET_LOGS = {"log": {"level": "error", "accesslog": {"disabled": True}}}


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


def download_once(reg: RegistryProcess, repo: str, digest: str, size: int) -> float:
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


def manifest_put_rate(reg, repo, template, clients, seconds, round_no) -> tuple[float, int]:
    def work(session, c, i):
        body = json.dumps({**template, "annotations": {"bench": f"{round_no}-{c}-{i}"}})
        r = session.put(f"{reg.url}/v2/{repo}/manifests/r{round_no}-c{c}-{i}", data=body,
                        headers={"Content-Type": OCI_MANIFEST})
        return r.status_code == 201

    return run_clients(clients, seconds, work)


def manifest_get_rate(reg, repo, tag, clients, seconds) -> tuple[float, int]:
    def work(session, c, i):
        r = session.get(f"{reg.url}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        return r.status_code == 200 and len(r.content) > 0

    return run_clients(clients, seconds, work)


# ------------------------------------------------------------------ the run


def summarize(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f} ({min(values):.0f}-{max(values):.0f})"


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
    args = ap.parse_args()
    kinds = [k.strip() for k in args.registries.split(",") if k.strip()]

    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-", dir=args.dir))
    regs = [
        RegistryProcess(kind=kind, root=tmp / f"{kind}-root", workdir=tmp / "procs",
                        extra_config=QUIET_LOGS)
        for kind in kinds
    ]
    results: dict[str, dict[str, list[float]]] = {r.kind: {} for r in regs}
    errors: dict[str, int] = {r.kind: 0 for r in regs}

    def record(reg, figure, value, errs=0):
        results[reg.kind].setdefault(figure, []).append(value)
        errors[reg.kind] += errs

    try:
        for reg in regs:
            reg.start()
        print(", ".join(f"{r.kind} {r.url}" for r in regs) + f"; storage under {tmp}")
        big = tmp / "big.bin"
        size = args.size_mib * MiB
        make_big_file(big, size)

        upload_name = f"{args.size_mib} MiB upload, MiB/s"
        get_name = f"{args.size_mib} MiB blob GET, MiB/s"
        last_digest = {}
        for n in range(args.rounds):
            digest = new_content(big)  # new bytes each round, hashed outside the timing
            for reg in regs if n % 2 == 0 else reversed(regs):
                seconds = upload_once(reg, f"bench/blob{n}", big, digest)
                record(reg, upload_name, size / MiB / seconds)
                last_digest[reg.kind] = (f"bench/blob{n}", digest)
                print(f"  round {n} {reg.kind:9} upload {size / MiB / seconds:8.1f} MiB/s")
        for n in range(args.rounds):
            for reg in regs if n % 2 == 0 else reversed(regs):
                repo, digest = last_digest[reg.kind]
                seconds = download_once(reg, repo, digest, size)
                record(reg, get_name, size / MiB / seconds)
                print(f"  round {n} {reg.kind:9} GET    {size / MiB / seconds:8.1f} MiB/s")
        big.unlink()

        templates = {reg.kind: seed_manifest_repo(reg, "bench/manifests") for reg in regs}
        for reg in regs:  # a tag to GET
            r = requests.put(f"{reg.url}/v2/bench/manifests/manifests/latest",
                             data=json.dumps(templates[reg.kind]),
                             headers={"Content-Type": OCI_MANIFEST})
            if r.status_code != 201:
                raise RuntimeError(f"{reg.kind}: manifest PUT -> {r.status_code} {r.text}")
        for clients in (1, 8):
            for n in range(args.rounds):
                for reg in regs if n % 2 == 0 else reversed(regs):
                    rate, errs = manifest_put_rate(reg, "bench/manifests", templates[reg.kind],
                                                   clients, args.seconds, f"{clients}x{n}")
                    record(reg, f"manifest PUT req/s, {clients} client(s)", rate, errs)
                    print(f"  round {n} {reg.kind:9} PUT x{clients} {rate:8.1f} req/s")
                    rate, errs = manifest_get_rate(reg, "bench/manifests", "latest", clients,
                                                   args.seconds)
                    record(reg, f"manifest GET req/s, {clients} client(s)", rate, errs)
                    print(f"  round {n} {reg.kind:9} GET x{clients} {rate:8.1f} req/s")
    finally:
        for reg in regs:
            reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # gigabytes of blobs, in RAM under /dev/shm

    print(f"\n{os.cpu_count()} CPUs, {args.rounds} rounds; median (min-max)")
    names = {"ours": "this registry", "reference": "reference"}
    header = "".join(f"{names[k]:>24}" for k in kinds)
    print(f"{'figure':36}{header}" + ("   ratio" if len(kinds) == 2 else ""))
    for figure in results[kinds[0]]:
        cells = "".join(f"{summarize(results[k][figure]):>24}" for k in kinds)
        ratio = ""
        if len(kinds) == 2:
            a, b = (statistics.median(results[k][figure]) for k in kinds)
            ratio = f" {a / b:6.2f}x"
        print(f"{figure:36}{cells}{ratio}")
    print("failed requests: " + ", ".join(f"{names[k]} {errors[k]}" for k in kinds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
