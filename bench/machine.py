"""One line describing the machine a benchmark ran on, for ``docs/benchmarks.md``."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def memory_gib() -> float | None:
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        return int(first.split()[1]) / 2**20
    except (OSError, IndexError, ValueError):
        return None


def describe() -> str:
    """CPU, cores, RAM, Python and OS, and the load average now (other work skews timings)."""
    mem = memory_gib()
    ram = f", {mem:.1f} GiB RAM" if mem else ""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores{ram}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; load average {os.getloadavg()[0]:.1f}"
    )
