"""Run untrusted Python programs (generated solutions with their tests) in a bubblewrap sandbox.

Layers, each checked by a test with a hostile program (tests/test_sandbox.py):
- bubblewrap with new user, network, PID, IPC and UTS namespaces: no network at all, no view
  of host processes. The program sees only what it needs: /usr (the interpreter and its
  libraries) read-only, a minimal /dev and /proc, a private /tmp and its own work directory.
  Home directories, the checkout, the build's outputs and /etc are not there at all;
- as root, an unprivileged user (uid/gid 65534, no supplementary groups) besides, so that
  RLIMIT_NPROC counts the sandbox's processes alone;
- rlimits on CPU seconds, address space, file size (which also caps stdout/stderr) and
  processes, set by `prlimit`; a wall-clock timeout that kills the whole sandbox;
- a scrubbed environment and a fresh temporary work directory, removed afterwards.

How the sandbox starts matters inside Beam: an SDK worker runs gRPC threads, and gRPC's fork
handlers abort a child made by fork() (measured: 22 of 120 correct MBPP solutions came back
"killed by signal 6/11" through `corpusmill verify`, when Popen dropped privileges itself and
so had to fork). Here Popen gets no user, group or preexec_fn, so CPython starts the child with
vfork/posix_spawn, which run no fork handlers; privileges are dropped by `setpriv` inside the
exec chain instead.

The program runs behind a one-line launcher that prints a start marker first. A run whose
output does not begin with the marker never reached the program: that is a failure of the
sandbox (retried, then reported as `sandbox_start_failed`), never a verdict on the program.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from typing import Literal

NOBODY = 65534
OUTPUT_TAIL_BYTES = 4096
START_MARKER = b"\x00corpusmill-sandbox-started\x00\n"
# Runs the program as __main__ after the marker; `-I -B` keep user site-packages and .pyc writes out.
LAUNCHER = (f"import os, runpy, sys\nos.write(1, {START_MARKER!r})\nsys.argv = ['main.py']\n"
            "runpy.run_path('main.py', run_name='__main__')\n")
START_RETRIES = 8  # a start can fail while the kernel releases an earlier sandbox's processes
START_BACKOFF_S = 0.1
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
    """How a run ended. `status` "error" with reason `sandbox_start_failed` is the sandbox's own
    failure; every other result is the program's outcome. `reason` is a snake_case code."""

    status: Status
    returncode: int | None
    output_tail: str
    seconds: float
    reason: str | None = None
    detail: str | None = None

    @property
    def sandbox_failed(self) -> bool:
        return self.reason == "sandbox_start_failed"


def default_python() -> str:
    """The interpreter run inside the sandbox: a system python3 under /usr, the only tree bound in."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("no system python3 under /usr (/usr/bin/python3); install one")


def _root_binds() -> list[str]:
    """/usr read-only, and the top-level library and binary folders as they are on this host
    (symbolic links into /usr on merged-/usr systems, folders elsewhere)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def _nproc_limit(limits: SandboxLimits) -> int:
    if os.geteuid() == 0:
        return limits.processes  # uid 65534 runs nothing else here
    # An ordinary user's other processes count against RLIMIT_NPROC too: allow those plus the sandbox's.
    uid, running = os.geteuid(), 0
    for pid in os.listdir("/proc"):
        try:
            running += pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            continue
    return running + limits.processes


def _command(workdir: str, python: str, limits: SandboxLimits) -> list[str]:
    drop = (["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
            if os.geteuid() == 0 else [])
    # soft CPU limit first (SIGXCPU, reported as a timeout), the hard one a second later (SIGKILL)
    rlimits = ["prlimit", f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}", f"--as={limits.memory_bytes}",
               f"--fsize={limits.output_bytes}", f"--nproc={_nproc_limit(limits)}", "--core=0", "--"]
    jail = ["bwrap", *_root_binds(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--bind", workdir, workdir, "--chdir", workdir, "--unshare-all", "--die-with-parent",
            "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", workdir,
            "--setenv", "LANG", "C.UTF-8", "--"]
    return drop + rlimits + jail + [python, "-I", "-B", "launcher.py"]


def run_python(program: str, limits: SandboxLimits | None = None, python: str | None = None) -> SandboxResult:
    """Run `program` (Python source) in the sandbox and report how it ended."""
    limits = limits or SandboxLimits()
    python = python or default_python()
    for attempt in range(START_RETRIES):
        result = _run_once(program, limits, python)
        if not result.sandbox_failed:
            return result
        time.sleep(START_BACKOFF_S * (attempt + 1))
    return result


def _run_once(program: str, limits: SandboxLimits, python: str) -> SandboxResult:
    workdir = tempfile.mkdtemp(prefix="corpusmill-sandbox-")
    logdir = tempfile.mkdtemp(prefix="corpusmill-sandbox-log-")  # outside the sandbox's view
    started = time.monotonic()
    try:
        for name, text in (("main.py", program), ("launcher.py", LAUNCHER)):
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
                f.write(text)
        if os.geteuid() == 0:
            for path in (workdir, *(os.path.join(workdir, n) for n in ("main.py", "launcher.py"))):
                os.chown(path, NOBODY, NOBODY)
        log_path = os.path.join(logdir, "output")
        with open(log_path, "wb") as log:
            # no user=/group=/preexec_fn: they would force a fork() (see the module docstring)
            proc = subprocess.Popen(
                _command(workdir, python, limits), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=workdir, start_new_session=True,
                env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "HOME": workdir},
            )
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return _result(proc.returncode, timed_out, log_path, limits, time.monotonic() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(logdir, ignore_errors=True)


def _result(code: int, timed_out: bool, log_path: str, limits: SandboxLimits, seconds: float) -> SandboxResult:
    size = os.path.getsize(log_path)
    with open(log_path, "rb") as f:
        head = f.read(len(START_MARKER))
        f.seek(max(len(START_MARKER), size - OUTPUT_TAIL_BYTES))
        tail = f.read().decode("utf-8", errors="replace")
    if head != START_MARKER:
        # the program never ran: bwrap, prlimit or setpriv failed, or the start hung
        head_text = head.decode("utf-8", errors="replace")
        return SandboxResult("error", code, "", seconds, "sandbox_start_failed", (head_text + tail).strip()[:1000])
    if timed_out:
        return SandboxResult("timeout", code, tail, seconds, "sandbox_wall_time", f"{limits.wall_s} s")
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return SandboxResult("timeout", code, tail, seconds, "sandbox_cpu_time", f"{limits.cpu_s} s")
    # Python ignores SIGXFSZ, so a full output shows as a failed write, not a signal: check the size.
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ) or (size >= limits.output_bytes and code != 0):
        return SandboxResult("error", code, tail, seconds, "sandbox_output_limit", f"{limits.output_bytes} bytes")
    if code == 0:
        return SandboxResult("pass", code, tail, seconds)
    if code < 0:
        return SandboxResult("error", code, tail, seconds, "killed_by_signal", f"signal {-code}")
    return SandboxResult("fail", code, tail, seconds, "tests_fail")


@cache
def sandbox_problem() -> str | None:
    """None when the sandbox runs a program here; else what is wrong and how to fix it (checked once)."""
    if shutil.which("bwrap") is None:
        return ("code verification needs bubblewrap, which is not installed: `apt-get install bubblewrap` "
                "(Debian, Ubuntu) or `dnf install bubblewrap` (Fedora, RHEL)")
    try:
        result = run_python("print(6 * 7)\n", SandboxLimits(cpu_s=5, wall_s=30))
    except (OSError, subprocess.SubprocessError) as err:
        return f"the code sandbox cannot start: {err}"
    if result.status != "pass" or result.output_tail.strip() != "42":
        why = result.detail or result.output_tail.strip() or result.reason
        return (f"the code sandbox does not run a test program ({why}); bubblewrap needs unprivileged user "
                "namespaces (sysctl kernel.unprivileged_userns_clone=1, or in a container --security-opt "
                "seccomp=unconfined) and a system python3 under /usr")
    return None
