"""What every benchmark prints about the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> str:
    """Cores, CPU model and Python version, as the benchmarks print them."""
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None (no such process, no /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def tree_cpu(pid: int) -> float | None:
    """CPU seconds of a process, of its children that ended, and of its live children.

    A child's time moves to its parent's count when the parent reaps it, so the sum holds over
    children that come and go (gunicorn's workers, PostgreSQL's backends). None without /proc.
    """
    fields = _stat(pid)
    if fields is None:
        return None
    # utime, stime, cutime, cstime: the 14th to 17th fields, counted from the pid.
    total = sum(int(value) for value in fields[11:15])
    for child in children(pid):
        child_fields = _stat(child)
        if child_fields is not None:
            total += sum(int(value) for value in child_fields[11:15])
    return total / _TICKS


def children(pid: int) -> list[int]:
    """The live child processes' ids (empty without /proc)."""
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


def parent_of(pid: int) -> int | None:
    """The parent process id, or None."""
    fields = _stat(pid)
    return None if fields is None else int(fields[1])


def busy_cpu() -> tuple[float, float] | None:
    """The machine's busy and total CPU seconds since boot, over all cores, or None."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


class CpuUse:
    """CPU seconds spent between entering and leaving: by this process, by named process trees
    (None when one is not on this machine), and the share of the machine's cores kept busy."""

    def __init__(self, trees: dict[str, int | None], own: str = "this process"):
        """Name each process tree to measure by its root's process id, and this process."""
        self.trees = trees
        self.own = own
        self.seconds: dict[str, float | None] = {}
        self.busy: float | None = None

    def _read(self) -> tuple[dict[str, float | None], float, tuple[float, float] | None]:
        times = os.times()
        trees = {name: None if pid is None else tree_cpu(pid) for name, pid in self.trees.items()}
        return trees, times.user + times.system, busy_cpu()

    def __enter__(self) -> CpuUse:
        """Take the first reading."""
        self._start = self._read()
        return self

    def __exit__(self, *_exc) -> None:
        """Take the second reading and keep the differences."""
        trees, own, machine = self._read()
        started_trees, started_own, started_machine = self._start
        for name, value in trees.items():
            before = started_trees[name]
            self.seconds[name] = None if value is None or before is None else value - before
        self.seconds[self.own] = own - started_own
        if machine is not None and started_machine is not None:
            busy, total = (now - then for now, then in zip(machine, started_machine, strict=True))
            self.busy = busy / total if total else None


def process_cpu(pid: int) -> float | None:
    """CPU seconds run so far by a process and its live children, every thread, to the nanosecond.

    The scheduler's own count (schedstat), for measurements of one request, which tree_cpu's
    clock ticks are too coarse for; time of threads that ended is not in it. None without it.
    """
    total = 0
    for process in (pid, *children(pid)):
        try:
            tasks = list(Path(f"/proc/{process}/task").iterdir())
        except OSError:
            if process == pid:
                return None
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9
