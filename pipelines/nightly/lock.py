"""ROOT/build.lock: one build at a time on a root, and a lock left by a killed build is recognised.

The lock file says who holds it: host, process id, the process's start time (so a reused process id is
not mistaken for the holder), when the build started, and a heartbeat the holder renews every minute.
On the holder's host a lock is stale when its process is gone; from another host (a new container, an
other scheduler worker) when its heartbeat is older than STALE_AFTER_S.

On a local disk the lock is created with O_EXCL, so two builds starting in the same instant cannot
both win. Object stores (gs://, s3://) have no exclusive create through Beam FileSystems: there the
lock is written, then read back, which keeps apart builds started seconds apart (a scheduler's
overlapping runs) but not in the same instant.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.nightly.root import is_local

LOCK = "build.lock"
HEARTBEAT_S = 60
STALE_AFTER_S = 15 * 60  # ten missed heartbeats and more: the holder is gone (or its clock is far off)


class LockedError(UsageError):
    """Another build holds the root's lock (exit code 4: try again later, nothing to fix)."""


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


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class BuildLock:
    """`with BuildLock(root):` holds ROOT/build.lock for the block; LockedError when another build holds it."""

    def __init__(self, root: str):
        self.path = FileSystems.join(root, LOCK)
        self.token = uuid.uuid4().hex
        self.body = {"host": socket.gethostname(), "pid": os.getpid(), "process_start": _process_start(os.getpid()),
                     "started": _stamp(time.time()), "heartbeat": time.time(), "token": self.token}
        self.note: str | None = None  # what became of a stale lock, for the console
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> BuildLock:
        if not self._create():
            holder = self._holder()
            if holder is not None and self._held_by_live_build(holder):
                raise LockedError(
                    f"another build holds {self.path}: process {holder.get('pid')} on {holder.get('host')}, "
                    f"since {holder.get('started')}. Wait for it to finish; if no build runs there any more, "
                    "delete the lock file and run again.")
            self.note = (f"removed a stale lock of process {holder.get('pid')} on {holder.get('host')} (started "
                         f"{holder.get('started')}), which no longer runs" if holder else
                         "removed an unreadable lock file")
            FileSystems.delete([self.path])
            if not self._create():
                raise LockedError(f"another build took {self.path} at the same moment; run again later")
        self._beat = threading.Thread(target=self._renew, daemon=True, name="build-lock-heartbeat")
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        holder = self._holder()
        if holder is not None and holder.get("token") == self.token:
            FileSystems.delete([self.path])

    def _renew(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            holder = self._holder()
            if holder is None or holder.get("token") != self.token:
                return  # somebody removed or took the lock: never overwrite theirs
            self._write({**self.body, "heartbeat": time.time()}, replace=True)

    def _create(self) -> bool:
        if is_local(self.path):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(self.body).encode("utf-8"))
            return True
        if FileSystems.exists(self.path):
            return False
        self._write(self.body, replace=False)
        holder = self._holder()  # read back: of two builds writing at once, the last write wins
        return holder is not None and holder.get("token") == self.token

    def _write(self, body: dict, replace: bool) -> None:
        if replace:  # a renewed heartbeat: written aside, then renamed over the lock, never half-written
            tmp = f"{self.path}.{self.token}.tmp"
            with FileSystems.create(tmp) as f:
                f.write(json.dumps(body).encode("utf-8"))
            if not is_local(self.path):
                FileSystems.delete([self.path])
            FileSystems.rename([tmp], [self.path])  # a local rename replaces the file atomically
            return
        with FileSystems.create(self.path) as f:
            f.write(json.dumps(body).encode("utf-8"))

    def _holder(self) -> dict | None:
        try:
            with FileSystems.open(self.path) as f:
                return json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):
            return None

    @staticmethod
    def _held_by_live_build(holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            # a process on another machine cannot be asked; its heartbeat says whether it still runs
            heartbeat = holder.get("heartbeat")
            return isinstance(heartbeat, (int, float)) and time.time() - heartbeat < STALE_AFTER_S
        pid = holder.get("pid")
        if not isinstance(pid, int) or pid <= 0:  # never os.kill(-1, ...): that would ask about every process
            return False
        return _alive(pid, holder.get("process_start"))
