"""Run untrusted Python programs (generated solutions with their tests) in a sandbox.

Layers, each checked by a test with a hostile program (tests/test_sandbox.py):
- an unprivileged user (uid/gid 65534, no supplementary groups), so RLIMIT_NPROC applies
  and files of the host user (root, mode 0700/0600) cannot be read;
- bubblewrap, itself started as that user: new user, network, PID, IPC and UTS
  namespaces (no network at all, no view of host processes), the host file system
  read-only, a private /tmp, and the work directory the only writable place;
- rlimits on CPU seconds, address space, file size (which also caps stdout/stderr) and
  processes, set by `prlimit` before the sandbox starts; a wall-clock timeout that kills
  the whole sandbox;
- a scrubbed environment and a fresh temporary work directory, removed afterwards.

The interpreter must be readable by uid 65534 (/usr/bin/python3 here; a venv under /root
is not). Where bubblewrap is missing, `unshare --net --pid` is used instead: no network,
but /tmp stays shared (the result says which isolation was used).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Literal

NOBODY = 65534
OUTPUT_TAIL_BYTES = 4096
Status = Literal["pass", "fail", "timeout", "error"]


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed run."""

    cpu_s: int = 10
    wall_s: float = 20.0
    memory_bytes: int = 1 << 30
    output_bytes: int = 1 << 20  # also the largest file the program may write
    # Counted per user across all sandboxes, and a finished sandbox's processes take a moment
    # to be released by the kernel: too low a value makes back-to-back runs fail to start.
    processes: int = 256


@dataclass(frozen=True)
class SandboxResult:
    """What a sandboxed run came to: pass (exit 0), fail (non-zero exit), timeout or error."""

    status: Status
    returncode: int | None
    output_tail: str
    seconds: float
    isolation: str
    reason: str | None = None


def default_python() -> str:
    """An interpreter the unprivileged user can execute."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("no system python3 readable by uid 65534 (/usr/bin/python3); install one")


def isolation_available() -> str:
    """'bwrap' when bubblewrap is installed, else 'unshare'."""
    return "bwrap" if shutil.which("bwrap") else "unshare"


def _command(workdir: str, python: str, script: str, limits: SandboxLimits, isolation: str) -> list[str]:
    # soft CPU limit first (SIGXCPU, reported as a timeout), the hard one a second later (SIGKILL)
    rlimits = ["prlimit", f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}", f"--as={limits.memory_bytes}",
               f"--fsize={limits.output_bytes}", f"--nproc={limits.processes}", "--core=0", "--"]
    if isolation == "bwrap":
        jail = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                "--bind", workdir, workdir, "--chdir", workdir, "--unshare-all", "--die-with-parent",
                "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", workdir,
                "--setenv", "LANG", "C.UTF-8", "--"]
    else:
        jail = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--"]
    return rlimits + jail + [python, "-I", "-B", script]


START_RETRIES = 20  # attempts when the kernel has not yet released an earlier sandbox's processes
START_BACKOFF_S = 0.05


def run_python(program: str, limits: SandboxLimits | None = None, python: str | None = None) -> SandboxResult:
    """Run `program` (Python source) in the sandbox and report how it ended."""
    limits = limits or SandboxLimits()
    python = python or default_python()
    for attempt in range(START_RETRIES):
        result = _run_once(program, limits, python)
        if not (result.reason == "sandbox failed to start" and "Resource temporarily unavailable" in
                result.output_tail):
            return result
        time.sleep(START_BACKOFF_S * (attempt + 1))
    return result


def _run_once(program: str, limits: SandboxLimits, python: str) -> SandboxResult:
    isolation = isolation_available()
    workdir = tempfile.mkdtemp(prefix="corpusmill-sandbox-")
    logdir = tempfile.mkdtemp(prefix="corpusmill-sandbox-log-")  # root-only: the program cannot see it
    started = time.monotonic()
    try:
        os.chown(workdir, NOBODY, NOBODY)
        script = os.path.join(workdir, "main.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(program)
        os.chown(script, NOBODY, NOBODY)
        log_path = os.path.join(logdir, "output")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                _command(workdir, python, script, limits, isolation), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=workdir, user=NOBODY, group=NOBODY, extra_groups=[],
                start_new_session=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir},
            )
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        tail = _tail(log_path)
        # Python ignores SIGXFSZ, so a full output shows as a failed write, not a signal: check the size.
        if os.path.getsize(log_path) >= limits.output_bytes and proc.returncode != 0:
            return SandboxResult("error", proc.returncode, tail, time.monotonic() - started, isolation,
                                 "output or file size limit")
        return _result(proc.returncode, timed_out, tail, time.monotonic() - started, isolation)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(logdir, ignore_errors=True)


def _tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - OUTPUT_TAIL_BYTES))
        return f.read().decode("utf-8", errors="replace")


def _result(code: int, timed_out: bool, tail: str, seconds: float, isolation: str) -> SandboxResult:
    if timed_out:
        return SandboxResult("timeout", code, tail, seconds, isolation, "wall-clock limit")
    if code == -signal.SIGXCPU or code == 128 + signal.SIGXCPU:
        return SandboxResult("timeout", code, tail, seconds, isolation, "CPU limit")
    if code == -signal.SIGXFSZ or code == 128 + signal.SIGXFSZ:
        return SandboxResult("error", code, tail, seconds, isolation, "output or file size limit")
    if code == 0:
        return SandboxResult("pass", code, tail, seconds, isolation)
    if tail.startswith(("bwrap:", "prlimit:", "unshare:")):
        return SandboxResult("error", code, tail, seconds, isolation, "sandbox failed to start")
    if code < 0:
        return SandboxResult("error", code, tail, seconds, isolation, f"killed by signal {-code}")
    return SandboxResult("fail", code, tail, seconds, isolation)
