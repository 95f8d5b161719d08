"""Webhook latency and drain, this registry against the reference, one receiver for both.

Run by hand (not a test): ``.venv/bin/python benchmarks/notify_bench.py`` from the repository
root. One webhook receiver (``receiver.js``, a Node process of its own, so it neither shares the
pushers' GIL nor caps the rates measured) takes the POSTs of both registries; pusher threads
PUT distinct manifests by tag, and each event is matched to its PUT by the tag. Figures (median
of the rounds, min-max beside it):

- latency from the manifest PUT's response to the webhook's arrival, p50 and p99, at 1 and 8
  concurrent pushers
- delivered events/s at 8 pushers (events / time from the first to the last arrival), and the
  same for this registry with a second ``registry notifier`` process
- manifest PUT req/s at 8 pushers with notifications on, against this registry with none
  configured (the target is within 10%); and the same while the receiver holds every POST, so
  that no delivery shares the machine with the pushes
- for those push phases, the CPU time each part took per PUT (registry, broker, notifiers,
  receiver, pushers), from /proc: on a machine they all share, who took the time
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
from registry_bench import OCI_MANIFEST, QUIET_LOGS, run_clients, seed_manifest_repo

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from shared.broker import (  # noqa: E402
    connect,
    dead_queue_name,
    endpoint_queue_name,
    retry_queue_name,
    retry_steps,
    topology_for,
)
from shared.broker.endpoint_record import record_queue  # noqa: E402
from shared.config import load_config  # noqa: E402
from tests.e2e.procs import RegistryProcess, free_port, registry_command  # noqa: E402

REPO = "bench/notify"


class Receiver:
    """The webhook receiver (``receiver.js``, a Node process of its own): it records the arrival
    time of every manifest push event, by tag, on the clock of ``time.perf_counter``."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(["node", str(Path(__file__).with_name("receiver.js")),
                                         str(self.port)])
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/hook"
        self.control = requests.Session()
        deadline = time.perf_counter() + 10
        while True:
            try:
                self.control.get(f"{self.base}/count", timeout=1)
                break
            except requests.ConnectionError:
                if time.perf_counter() > deadline:
                    raise
                time.sleep(0.05)
        self.arrivals: dict[str, float] = {}

    def hold(self) -> None:
        self.control.post(f"{self.base}/gate/close").raise_for_status()

    def release(self) -> None:
        self.control.post(f"{self.base}/gate/open").raise_for_status()

    def wait_for(self, tags: list[str], timeout: float) -> bool:
        """Polls only a count while waiting (cheap); fetches the arrival times at the end."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if int(self.control.get(f"{self.base}/count").text) >= len(self.arrivals) + len(tags):
                break
            time.sleep(0.05)
        self.arrivals = self.control.get(f"{self.base}/arrivals").json()
        return all(t in self.arrivals for t in tags)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def endpoint_config(receiver: Receiver, broker_url: str | None, ours: bool) -> dict:
    endpoint = {"name": f"bench-{os.getpid()}", "url": receiver.url, "timeout": "30s", "threshold": 5,
                "backoff": "1s", "ignore": {"actions": ["pull"]}}
    notifications: dict = {"endpoints": [endpoint]}
    if ours and broker_url:
        # Own exchange and queue names: a shared broker may serve other registries.
        notifications["broker"] = {"url": broker_url, "exchange": f"bench-{os.getpid()}.events"}
    return {"notifications": notifications}


def remove_topology(config_path: Path) -> None:
    """Delete the exchanges and queues this run declared: a shared broker keeps no leftovers."""
    config = load_config(str(config_path))
    topology = topology_for(config)
    with connect(config, purpose="consume") as connection:
        topology.delete_queue(connection, record_queue(topology).name)
        for endpoint in config.notifications.endpoints:
            names = [endpoint_queue_name(endpoint.name), dead_queue_name(endpoint.name)]
            names += [retry_queue_name(endpoint.name, step) for step in retry_steps(endpoint)]
            for name in names:
                topology.delete_queue(connection, name)
        for exchange in (topology.exchange, topology.requeue_exchange, topology.delay_exchange,
                         topology.dead_exchange):
            exchange(connection.default_channel).delete()


def push_phase(reg: RegistryProcess, template: dict, label: str, clients: int,
               seconds: float) -> tuple[dict[str, float], float, int]:
    """PUT distinct tagged manifests; returns {tag: response time}, req/s, failures."""
    responded: dict[str, float] = {}

    def push(session: requests.Session, c: int, i: int) -> bool:
        tag = f"{label}-c{c}-{i}"
        body = json.dumps({**template, "annotations": {"bench": tag}})
        r = session.put(f"{reg.url}/v2/{REPO}/manifests/{tag}", data=body,
                        headers={"Content-Type": OCI_MANIFEST})
        if r.status_code != 201:
            return False
        responded[tag] = time.perf_counter()  # one key per thread and round: no lock needed
        return True

    rate, failures = run_clients(clients, seconds, push)
    return responded, rate, failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarize(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f} ({min(values):.0f}-{max(values):.0f})"


def broker_processes(broker_url: str | None) -> list[int]:
    """The broker's server processes when it runs on this machine (the embedded broker runs
    inside the registry and its notifier)."""
    if broker_url is None:
        return []
    if broker_url.startswith("redis"):
        return matching_processes("redis-server")
    return matching_processes("beam.smp")


CPU_PARTS = ("registry", "broker", "notifiers", "receiver", "pushers")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of a push phase")
    ap.add_argument("--broker-url", default=None,
                    help="this registry's broker (e.g. amqp://guest:guest@127.0.0.1:5672//); "
                         "default: the embedded broker")
    ap.add_argument("--drain-timeout", type=float, default=120.0)
    args = ap.parse_args()

    receiver = Receiver()
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))

    def process(kind: str, name: str, notify: bool) -> RegistryProcess:
        extra = dict(QUIET_LOGS)
        if notify:
            extra.update(endpoint_config(receiver, args.broker_url, kind == "ours"))
        return RegistryProcess(kind=kind, root=tmp / f"{name}-root", workdir=tmp / name,
                               extra_config=extra)

    ours, ref, ours_off = (process("ours", "ours", True), process("reference", "ref", True),
                           process("ours", "ours-off", False))
    names = {id(ours): "this registry", id(ref): "reference"}
    short = {id(ours): "ours", id(ref): "ref", id(ours_off): "off"}
    results: dict[str, dict[str, list[float]]] = {"this registry": {}, "reference": {}}
    failures = 0
    notifiers: list[subprocess.Popen] = []

    def start_notifier() -> None:
        """One more ``registry notifier`` process on ours's config."""
        with open(tmp / f"notifier-{len(notifiers)}.log", "ab") as log:
            notifiers.append(subprocess.Popen(
                [*registry_command(), "notifier", str(ours.config_path)],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True))
        time.sleep(3)

    def record(reg, figure, value):
        results[names[id(reg)]].setdefault(figure, []).append(value)

    meter = CpuMeter({
        "ours": lambda: process_tree(ours.proc.pid),
        "ref": lambda: process_tree(ref.proc.pid),
        "off": lambda: process_tree(ours_off.proc.pid),
        "broker": lambda: broker_processes(args.broker_url),
        "notifiers": lambda: [pid for n in notifiers for pid in process_tree(n.pid)],
        "receiver": lambda: [receiver.process.pid],
        "pushers": lambda: [os.getpid()],
    })
    cpu_per_put: dict[str, dict[str, list[float]]] = {}  # phase -> part -> ms per PUT

    def metered_push(reg, template, label, clients, phase=None):
        """``push_phase``, and with ``phase`` the CPU ms per PUT of each part while it ran."""
        before = meter.read()
        responded, rate, failed = push_phase(reg, template, label, clients, args.seconds)
        spent = CpuMeter.spent(before, meter.read())
        if phase is not None and responded:
            spent["registry"] = spent[short[id(reg)]]
            row = cpu_per_put.setdefault(f"{names.get(id(reg), 'this registry')}, {phase}", {})
            for part in CPU_PARTS:
                row.setdefault(part, []).append(spent[part] * 1000 / len(responded))
        return responded, rate, failed

    def measured_round(reg, template, label, clients, backlog=False,
                       phase=None) -> dict[str, float]:
        """One push phase, then wait for its events; returns its figures. With ``backlog`` the
        receiver holds every POST during the push; "drain" is then the rate at which the backlog
        arrives once it answers again."""
        nonlocal failures
        label = f"{short[id(reg)]}-{label}"
        if backlog:
            receiver.hold()
        responded, rate, failed = metered_push(reg, template, label, clients, phase)
        released = time.perf_counter()
        if backlog:
            receiver.release()
        failures += failed
        tags = list(responded)
        if not receiver.wait_for(tags, args.drain_timeout):
            missing = [t for t in tags if t not in receiver.arrivals]
            raise RuntimeError(f"{names[id(reg)]}: {len(missing)} events never arrived")
        latencies = [(receiver.arrivals[t] - responded[t]) * 1000 for t in tags]
        arrivals = sorted(receiver.arrivals[t] for t in tags)
        figures = {
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "drain": (len([a for a in arrivals if a >= released]) / (arrivals[-1] - released)
                      if backlog else len(tags) / max(arrivals[-1] - arrivals[0], 1e-9)),
            "rate": rate,
        }
        print(f"  {label:20} {names[id(reg)]:14} {len(tags):6} events  PUT {rate:7.1f}/s  "
              f"p50 {figures['p50']:7.1f} ms  p99 {figures['p99']:7.1f} ms  "
              f"delivered {figures['drain']:7.1f}/s")
        return figures

    try:
        for reg in (ours, ref, ours_off):
            reg.start()
        if args.broker_url:
            start_notifier()  # serve starts one itself only on the embedded broker
        broker = args.broker_url or "embedded (filesystem) broker"
        print(f"receiver {receiver.url}; this registry on {broker}; storage under {tmp}")
        templates = {id(reg): seed_manifest_repo(reg, REPO) for reg in (ours, ref, ours_off)}
        time.sleep(2)  # let the seed's blob events drain

        for clients in (1, 8):
            for n in range(args.rounds):
                for reg in (ours, ref) if n % 2 == 0 else (ref, ours):
                    f = measured_round(reg, templates[id(reg)], f"r{n}-x{clients}", clients,
                                       phase="notifying" if clients == 8 else None)
                    record(reg, f"latency p50 ms, {clients} pusher(s)", f["p50"])
                    record(reg, f"latency p99 ms, {clients} pusher(s)", f["p99"])
                    if clients == 8:
                        record(reg, "manifest PUT req/s, 8 pushers, notifying", f["rate"])
                if clients == 8:
                    _, off_rate, failed = metered_push(ours_off, templates[id(ours_off)],
                                                       f"off{n}", 8, "no endpoints")
                    failures += failed
                    record(ours, "manifest PUT req/s, 8 pushers, no endpoints", off_rate)
                    print(f"  off{n:<17} {'this registry':14} PUT {off_rate:7.1f}/s (no endpoints)")

        for n in range(args.rounds):
            for reg in (ours, ref) if n % 2 == 0 else (ref, ours):
                f = measured_round(reg, templates[id(reg)], f"r{n}-backlog", 8, backlog=True,
                                   phase="deliveries held")
                record(reg, "backlog drain events/s, 1 notifier", f["drain"])
                # The receiver holds every POST meanwhile, so nothing is delivered: what is left
                # is the registry's own cost of notifying (publish, confirm, the broker).
                record(reg, "manifest PUT req/s, 8 pushers, deliveries held", f["rate"])

        start_notifier()
        for n in range(args.rounds):
            f = measured_round(ours, templates[id(ours)], f"r{n}-backlog-2n", 8, backlog=True)
            record(ours, "backlog drain events/s, 2 notifiers", f["drain"])
    finally:
        for notifier in notifiers:
            os.killpg(notifier.pid, signal.SIGTERM)
            notifier.wait(15)
        for reg in (ours, ref, ours_off):
            reg.stop()
        receiver.stop()
        if args.broker_url:
            remove_topology(ours.config_path)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.rounds} rounds of {args.seconds:.0f} s; median (min-max)")
    print(f"{'figure':48}{'this registry':>24}{'reference':>24}")
    for figure in results["this registry"]:
        cells = "".join(
            f"{summarize(results[k][figure]):>24}" if figure in results[k] else f"{'-':>24}"
            for k in ("this registry", "reference"))
        print(f"{figure:48}{cells}")
    print("\nCPU ms per manifest PUT while 8 pushers pushed, median of the rounds "
          "(registry: the server pushed to, its workers and children included)")
    print(f"{'phase':40}" + "".join(f"{part:>10}" for part in (*CPU_PARTS, "all")))
    for phase, parts in cpu_per_put.items():
        medians = [statistics.median(parts[part]) for part in CPU_PARTS]
        print(f"{phase:40}" + "".join(f"{m:10.2f}" for m in (*medians, sum(medians))))
    print(f"failed PUTs: {failures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
