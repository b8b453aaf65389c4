"""The machine the bench runs on, and the contention: how much of its CPUs other processes
used while a measurement ran (timings taken on shared cores are slower and noisier)."""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

HIGH_CONTENTION = 0.1  # other processes' share of the CPUs above which timings are unreliable


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        cpu = next(line.split(":", 1)[1].strip()
                   for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": threadpool_info(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)}


def cpu_busy_jiffies() -> int | None:
    """All CPUs' busy time since boot, in clock ticks (Linux /proc/stat); None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Contention:
    """The share of the machine's CPU time that other processes used from creation to report()."""

    def __init__(self):
        self.wall, self.busy, self.own = time.perf_counter(), cpu_busy_jiffies(), own_cpu_seconds()
        self.load_start = os.getloadavg()

    def report(self) -> dict:
        wall, busy = time.perf_counter() - self.wall, cpu_busy_jiffies()
        result = {"loadavg_start": self.load_start, "loadavg_end": os.getloadavg(),
                  "wall_seconds": wall}
        if busy is not None and self.busy is not None:
            own = own_cpu_seconds() - self.own
            others = max(0.0, (busy - self.busy) / os.sysconf("SC_CLK_TCK") - own)
            result["others_cpu_share"] = others / (wall * os.cpu_count())
            result["bench_cpu_share"] = own / (wall * os.cpu_count())
        return result


def contention_note(contention: dict, during: str) -> str:
    """How much of the CPUs other processes used ``during`` a measurement, and a warning
    when it was more than HIGH_CONTENTION."""
    if "others_cpu_share" not in contention:
        return f"contention during {during}: not measured on this system"
    share = contention["others_cpu_share"]
    note = (f"other processes used {share:.0%} of the CPUs during {during} (load average "
            f"{contention['loadavg_start'][0]:.2f} -> {contention['loadavg_end'][0]:.2f})")
    if share > HIGH_CONTENTION:
        note += ("\n    HIGH CONTENTION: these timings are slower and noisier than on an idle "
                 "machine; rerun when it is idle")
    return note
