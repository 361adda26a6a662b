"""Peak memory of a whole process tree (a launched command and all its descendants), sampled from /proc.

Both benchmarked tools fan out into processes (Beam's DirectRunner workers and their extraction
helpers; datatrove's forkserver pool and its ExtractorSandbox children), so the memory that
matters is the sum over the tree at one instant. Every SAMPLE_INTERVAL_S the tree is walked
again and its RSS summed; the peak of that sum is reported. A summed RSS counts pages shared
between processes (a forked child's copy-on-write pages, shared libraries) once per process,
so the proportional set size (PSS, each shared page split between its sharers) is summed too
where the kernel offers /proc/<pid>/smaps_rollup (Linux >= 4.14). A process that lives less
than one interval can be missed.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_INTERVAL_S = 0.2
PROC = Path("/proc")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass
class TreePeak:
    """Peaks over the samples of a process tree: summed RSS, summed PSS (None if unreadable), process count."""

    rss_bytes: int = 0
    pss_bytes: int | None = None
    processes: int = 0
    samples: int = 0


def _parent_of(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:  # exited between listing and reading
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces or ')'
    return int(stat[stat.rindex(")") + 2:].split()[1])


def tree_pids(root: int) -> list[int]:
    """`root` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def process_memory(pid: int) -> tuple[int, int | None]:
    """(RSS, PSS) of one process in bytes; PSS is None where smaps_rollup cannot be read; (0, 0) once it is gone."""
    try:
        rollup = (PROC / str(pid) / "smaps_rollup").read_text()
    except FileNotFoundError:
        if not (PROC / str(pid)).exists():
            return 0, 0
        rollup = None
    except ProcessLookupError:
        return 0, 0
    except PermissionError:
        rollup = None
    if rollup is not None:
        fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in rollup.splitlines()[1:]
                  if line.endswith(" kB")}
        return fields.get("Rss", 0), fields.get("Pss", 0)
    try:
        resident_pages = int((PROC / str(pid) / "statm").read_text().split()[1])
    except OSError:
        return 0, 0
    return resident_pages * PAGE_BYTES, None


class TreeSampler:
    """Samples the tree under `root` on a thread until stopped; use as a context manager."""

    def __init__(self, root: int, interval_s: float = SAMPLE_INTERVAL_S):
        self.root = root
        self.interval_s = interval_s
        self.peak = TreePeak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def sample(self) -> None:
        """Walk the tree once and fold the sums into the peaks."""
        pids = tree_pids(self.root)
        rss = pss = 0
        pss_known = True
        for pid in pids:
            r, p = process_memory(pid)
            rss += r
            if p is None:
                pss_known = False
            else:
                pss += p
        peak = self.peak
        peak.rss_bytes = max(peak.rss_bytes, rss)
        if pss_known:
            peak.pss_bytes = max(peak.pss_bytes or 0, pss)
        peak.processes = max(peak.processes, len(pids))
        peak.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], **popen_kwargs) -> tuple[float, TreePeak]:
    """Run `cmd` to completion: (wall seconds, peak memory of its tree); raises CalledProcessError on failure."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen_kwargs)
    with TreeSampler(proc.pid) as sampler:
        returncode = proc.wait()
    seconds = time.perf_counter() - started
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, cmd)
    return seconds, sampler.peak
