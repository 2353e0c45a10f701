"""Peak memory of a child process and everything it starts (a JVM, Spark's Python workers).

``getrusage`` only reports the largest single descendant, which misses work spread over worker
processes; sampling the resident memory of the whole process tree does not.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Measured:
    stdout: str
    stderr: str
    returncode: int
    seconds: float
    peak_mb: float
    cpu_seconds: float = 0.0


def run_measured(command: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to the end; its output, wall time, the peak resident MB of its process tree and
    the CPU seconds (user + system) its processes used, as last sampled (wall time means little on a busy machine)."""
    started = time.perf_counter()
    child = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    cpu: dict[int, float] = {}
    while child.poll() is None:
        peak = max(peak, tree_rss(child.pid, cpu))
        time.sleep(SAMPLE_SECONDS)
    out, err = child.communicate()
    return Measured(out, err, child.returncode, time.perf_counter() - started, peak / 1e6, sum(cpu.values()))


def tree_rss(root: int, cpu: dict[int, float] | None = None) -> int:
    """Resident bytes of ``root`` and every process below it; ``cpu`` gets each one's CPU seconds so far.

    A child of the same size as its parent, to the byte of address space and the page of resident
    memory, is one forked or vforked and not yet running a program of its own: it shares its parent's
    pages and is not counted again. A JVM task thread starting ``chmod`` (Hadoop's local file system
    does, for each folder and file it writes) made such a child, named after the thread, and the
    STEDI pipeline's 600 MB JVM was once in a while sampled twice: a peak of 1.1-1.5 GB.
    """
    parents: dict[int, int] = {}
    size: dict[int, tuple[int, int]] = {}  # address space bytes, resident pages
    used: dict[int, float] = {}
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        size[int(entry.name)] = (int(fields[20]), int(fields[21]))
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        if pid == root or size.get(pid) != size.get(parents.get(pid, -1)):
            total += size.get(pid, (0, 0))[1] * page
        if cpu is not None and pid in used:
            cpu[pid] = max(cpu.get(pid, 0.0), used[pid])
        frontier += [child for child, parent in parents.items() if parent == pid]
    return total
