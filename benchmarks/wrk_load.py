"""Driving ``wrk`` (Debian's package: a C load generator) for request-rate figures.

A Python client's threads take a large share of two cores and hold the GIL between requests,
so they cap and compress every rate they measure; wrk's event loop spends a few microseconds
per request. Its CPU time is measured all the same (from the kernel's accounting of the waited
child), so a figure says how much of the machine the load itself took.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().with_name("wrk")
PLACEHOLDER = "@TAG@"


@dataclass(frozen=True)
class LoadResult:
    rate: float  # completed requests per second
    requests: int
    errors: int  # answers >= 400 and socket errors
    seconds: float  # wall time of the run
    cpu_seconds: float  # wrk's own user + system time


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is needed for the request-rate figures: apt-get install wrk")
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, connections: int, seconds: float, script: str = "report.lua",
            script_args: tuple[str, ...] = (), headers: dict[str, str] | None = None
            ) -> LoadResult:
    """``connections`` keep-alive connections on one wrk thread (on two cores a second event
    loop only takes CPU from the servers) for ``seconds``."""
    # wrk takes whole seconds only.
    cmd = [wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(SCRIPTS / script)]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    report = next((line for line in done.stdout.splitlines() if line.startswith("{")), None)
    if done.returncode != 0 or report is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    figures = json.loads(report)
    duration = figures["duration_us"] / 1e6
    return LoadResult(rate=figures["requests"] / duration, requests=figures["requests"],
                      errors=figures["status_errors"] + figures["socket_errors"],
                      seconds=elapsed, cpu_seconds=cpu)


def manifest_put_load(base_url: str, repo: str, template: dict, label: str, connections: int,
                      seconds: float) -> LoadResult:
    """PUTs of distinct manifests (the tag in an annotation) to distinct tags."""
    doc = json.dumps({**template, "annotations": {"bench": PLACEHOLDER}})
    head, tail = doc.split(PLACEHOLDER)
    return run_wrk(base_url, connections, seconds, "manifest_put.lua",
                   (f"/v2/{repo}/manifests/", label, head, tail))


def manifest_get_load(base_url: str, repo: str, tag: str, media_type: str, connections: int,
                      seconds: float) -> LoadResult:
    return run_wrk(f"{base_url}/v2/{repo}/manifests/{tag}", connections, seconds,
                   headers={"Accept": media_type})
