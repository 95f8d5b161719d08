"""CPU seconds (user + system) spent by groups of processes, read from Linux's /proc.

The benchmarks share two cores between the servers, the broker, the notifiers, the receiver and
the client threads, so a throughput figure alone does not say who took the time: reading each
group's CPU before and after a phase does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

PidSource = Callable[[], list[int]]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:  # gone since it was listed
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text.rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # Fields 14 and 15 of proc(5), utime and stime; index 0 here is field 3.
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (gunicorn workers, a serve's embedded notifier)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def matching_processes(pattern: str) -> list[int]:
    """Processes whose command line matches ``pattern`` (``pgrep -f``), e.g. RabbitMQ's VM."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


class CpuMeter:
    """Named groups of processes; ``read()`` gives each group's CPU seconds so far. A process
    that exits between two reads drops out of its group's total, so compare reads taken while
    the processes measured are running."""

    def __init__(self, groups: dict[str, PidSource]):
        self.groups = groups

    def read(self) -> dict[str, float]:
        return {name: sum(process_cpu_seconds(pid) for pid in pids())
                for name, pids in self.groups.items()}

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: after[name] - before[name] for name in before}
