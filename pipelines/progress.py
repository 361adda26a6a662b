"""Progress of a local run on a terminal: one status line with the stage, the records read, the files
finished and the time spent, redrawn twice a second; nothing at all when the console is not a terminal
(a log file, a scheduler, CI).

The local runner reads files in worker processes whose output never reaches the terminal, and its
counters are known only when the pipeline ends; so each reading worker writes its own tally to a small
file in a folder the launcher names in PROGRESS_ENV (the workers inherit the environment), and a thread
of the launcher adds them up. Cluster runners have their own progress pages: the folder is set only
for the local runner, and a worker without it does nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PROGRESS_ENV = "CORPUSMILL_PROGRESS_DIR"
WRITE_EVERY_S = 0.5
_lock = threading.Lock()
_tally = {"records": 0, "files": 0, "written": 0.0}


def records_read(n: int = 1, file_done: bool = False) -> None:
    """Count `n` records read (and a finished file) in this worker; cheap when progress is off."""
    folder = os.environ.get(PROGRESS_ENV)
    if not folder:
        return
    with _lock:
        _tally["records"] += n
        _tally["files"] += int(file_done)
        now = time.monotonic()
        if not file_done and now - _tally["written"] < WRITE_EVERY_S:
            return
        _tally["written"] = now
        body = json.dumps({"records": _tally["records"], "files": _tally["files"]})
    path = os.path.join(folder, f"{os.getpid()}.json")
    try:
        with open(f"{path}.tmp", "w", encoding="ascii") as f:
            f.write(body)
        os.replace(f"{path}.tmp", path)
    except OSError:
        pass  # the launcher removed the folder: the run is over


def _totals(folder: str) -> tuple[int, int]:
    records = files = 0
    for name in os.listdir(folder):
        if name.endswith(".json"):
            try:
                with open(os.path.join(folder, name), encoding="ascii") as f:
                    tally = json.load(f)
            except (OSError, ValueError):
                continue
            records, files = records + tally["records"], files + tally["files"]
    return records, files


@contextmanager
def progress_line(stage: str, total_files: int, local: bool) -> Iterator[None]:
    """Show `stage: N records read, F/T files, m:ss` on the terminal while the block runs (local runs
    on a terminal only)."""
    if not (local and sys.stderr.isatty()):
        yield
        return
    folder = tempfile.mkdtemp(prefix="corpusmill-progress-")
    previous = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = folder
    stop = threading.Event()
    started = time.monotonic()

    def draw() -> None:
        while not stop.wait(0.5):
            records, files = _totals(folder)
            spent = int(time.monotonic() - started)
            sys.stderr.write(f"\r\033[K{stage}: {records:,} records read, {files}/{total_files} files, "
                             f"{spent // 60}:{spent % 60:02d}")
            sys.stderr.flush()

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
        if previous is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)
