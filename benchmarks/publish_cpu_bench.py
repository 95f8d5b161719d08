"""The registry's own CPU per manifest PUT with one webhook endpoint on RabbitMQ, against the
same registry with no endpoint: what notifying costs the registry's processes.

Run by hand: ``.venv/bin/python benchmarks/publish_cpu_bench.py --broker-url amqp://...``. Two
``registry serve`` processes with the same config (default logging, the sample config's), one
with an endpoint delivering to ``receiver.js`` through a ``registry notifier`` process, take
``wrk``'s manifest PUTs (8 connections) in alternating rounds; a third phase pushes to the
notifying registry while its notifier is paused (SIGSTOP), so that no delivery shares the
machine with the pushes and what is left is the registry's own cost of publishing (the events
are delivered after the round, before the next starts). For each round the CPU time of
each part (from /proc, :mod:`cpu_meter`) is divided by the PUTs: the registry's processes (its
gunicorn master and workers), the broker, the notifier, the receiver and wrk. The figure the
issue asks for is the registry's own: notifying against no endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from cpu_meter import CpuMeter, matching_processes, process_tree
from notify_bench import Receiver, endpoint_config, remove_topology
from registry_bench import OCI_MANIFEST, seed_manifest_repo
from wrk_load import manifest_put_load

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.procs import RegistryProcess, registry_command  # noqa: E402

REPO = "bench/publish"
PARTS = ("registry", "broker", "notifier", "receiver", "wrk")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker-url", required=True, help="amqp://guest:guest@127.0.0.1:5672//")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()

    receiver = Receiver()
    tmp = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    on = RegistryProcess(kind="ours", root=tmp / "on-root", workdir=tmp / "on",
                         extra_config=endpoint_config(receiver, args.broker_url, ours=True))
    off = RegistryProcess(kind="ours", root=tmp / "off-root", workdir=tmp / "off")
    notifier: subprocess.Popen | None = None
    wrk_cpu: dict[str, float] = {}
    meter = CpuMeter({
        "on": lambda: process_tree(on.proc.pid),
        "off": lambda: process_tree(off.proc.pid),
        "broker": lambda: matching_processes("beam.smp"),
        "notifier": lambda: process_tree(notifier.pid) if notifier else [],
        "receiver": lambda: [receiver.process.pid],
    })
    phases = ("notifying", "deliveries held", "no endpoint")
    per_put: dict[str, dict[str, list[float]]] = {phase: {} for phase in phases}
    rates: dict[str, list[float]] = {phase: [] for phase in phases}
    pushed = 1  # events the receiver should have had by now (the seed's manifest push)

    def delivered_all(timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while int(receiver.control.get(f"{receiver.base}/count").text) < pushed:
            if time.monotonic() > deadline:
                raise RuntimeError("events missing at the receiver")
            time.sleep(0.1)
    try:
        on.start()
        off.start()
        with open(tmp / "notifier.log", "ab") as log:
            notifier = subprocess.Popen([*registry_command(), "notifier", str(on.config_path)],
                                        stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                        start_new_session=True)
        templates = {}
        for reg in (on, off):
            templates[id(reg)] = seed_manifest_repo(reg, REPO)
            r = requests.put(f"{reg.url}/v2/{REPO}/manifests/seed",
                             data=json.dumps(templates[id(reg)]),
                             headers={"Content-Type": OCI_MANIFEST})
            r.raise_for_status()
        delivered_all()  # the notifier is up and the seed's event is in
        for n in range(args.rounds):
            order = [("notifying", on), ("deliveries held", on), ("no endpoint", off)]
            for phase, reg in order if n % 2 == 0 else reversed(order):
                if phase == "deliveries held":
                    os.killpg(notifier.pid, signal.SIGSTOP)
                before = meter.read()
                result = manifest_put_load(reg.url, REPO, templates[id(reg)], f"r{n}{phase[0]}",
                                           args.connections, args.seconds)
                spent = CpuMeter.spent(before, meter.read())
                if reg is on:
                    pushed += result.requests
                    os.killpg(notifier.pid, signal.SIGCONT)
                    delivered_all()  # no delivery left to overlap the next round
                spent["registry"] = spent["on" if reg is on else "off"]
                spent["wrk"] = result.cpu_seconds
                wrk_cpu[phase] = result.cpu_seconds
                for part in PARTS:
                    per_put[phase].setdefault(part, []).append(
                        spent[part] * 1000 / result.requests)
                rates[phase].append(result.rate)
                print(f"  round {n} {phase:15} {result.rate:7.1f} PUT/s  registry "
                      f"{spent['registry'] * 1000 / result.requests:.2f} ms CPU per PUT "
                      f"(errors {result.errors})")
    finally:
        if notifier is not None:
            os.killpg(notifier.pid, signal.SIGCONT)
            os.killpg(notifier.pid, signal.SIGTERM)
            notifier.wait(15)
        for reg in (on, off):
            reg.stop()
        receiver.stop()
        remove_topology(on.config_path)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.rounds} rounds of {args.seconds} s, {args.connections} connections; "
          "CPU ms per manifest PUT, median (min-max)")
    print(f"{'phase':16}{'PUT/s':>18}" + "".join(f"{p:>20}" for p in PARTS))
    for phase, parts in per_put.items():
        cells = "".join(f"{statistics.median(v):8.2f} ({min(v):.2f}-{max(v):.2f})"
                        for v in (parts[p] for p in PARTS))
        r = rates[phase]
        print(f"{phase:16}{statistics.median(r):9.1f} ({min(r):.0f}-{max(r):.0f})  {cells}")
    base = statistics.median(per_put["no endpoint"]["registry"])
    for phase in ("notifying", "deliveries held"):
        ratio = statistics.median(per_put[phase]["registry"]) / base
        print(f"registry's own CPU per PUT, {phase} / no endpoint: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
