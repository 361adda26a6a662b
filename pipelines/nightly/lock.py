"""ROOT/build.lock: one build at a time on a root, and a lock left by a killed build is recognised.

The lock file says who holds it: host, process id, the process's start time (so a reused process id is
not mistaken for the holder) and when the build started. On a local disk it is created with O_EXCL, so
two builds starting in the same instant cannot both win. Object stores (gs://, s3://) have no exclusive
create through Beam FileSystems: there the lock is written, then read back, which keeps apart builds
started seconds apart (a scheduler's overlapping runs) but not in the same instant.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.nightly.root import is_local

LOCK = "build.lock"


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None where that is unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's process: alive
    return started is None or _process_start(pid) in (None, started)


class BuildLock:
    """`with BuildLock(root):` holds ROOT/build.lock for the block; UsageError when another build holds it."""

    def __init__(self, root: str):
        self.path = FileSystems.join(root, LOCK)
        self.token = uuid.uuid4().hex
        self.body = {"host": socket.gethostname(), "pid": os.getpid(), "process_start": _process_start(os.getpid()),
                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "token": self.token}
        self.note: str | None = None  # what became of a stale lock, for the console

    def __enter__(self) -> BuildLock:
        if not self._create():
            holder = self._holder()
            if holder is not None and self._held_by_live_build(holder):
                raise UsageError(
                    f"another build holds {self.path}: process {holder.get('pid')} on {holder.get('host')}, "
                    f"since {holder.get('started')}. Wait for it to finish; if no build runs there any more, "
                    "delete the lock file and run again.")
            self.note = (f"removed a stale lock of process {holder.get('pid')} (started {holder.get('started')}), "
                         "which no longer runs" if holder else "removed an unreadable lock file")
            FileSystems.delete([self.path])
            if not self._create():
                raise UsageError(f"another build took {self.path} at the same moment; run again later")
        return self

    def __exit__(self, *exc) -> None:
        holder = self._holder()
        if holder is not None and holder.get("token") == self.token:
            FileSystems.delete([self.path])

    def _create(self) -> bool:
        body = json.dumps(self.body).encode("utf-8")
        if is_local(self.path):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            return True
        if FileSystems.exists(self.path):
            return False
        with FileSystems.create(self.path) as f:
            f.write(body)
        holder = self._holder()  # read back: of two builds writing at once, the last write wins
        return holder is not None and holder.get("token") == self.token

    def _holder(self) -> dict | None:
        try:
            with FileSystems.open(self.path) as f:
                return json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):
            return None

    @staticmethod
    def _held_by_live_build(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return True  # a process on another machine cannot be checked from here
        pid = holder.get("pid")
        if not isinstance(pid, int) or pid <= 0:  # never os.kill(-1, ...): that would ask about every process
            return False
        return _alive(pid, holder.get("process_start"))
