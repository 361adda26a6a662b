"""Run a function in a helper process that is killed when one call takes too long.

The helper is started with `spawn`, not `fork`: Beam's SDK workers run gRPC and logging
threads, and a forked child inherits their locks in whatever state they were; measured
here, forked helpers inside a multi_processing DirectRunner hung or died on pages that
extract in milliseconds (datatrove's ExtractorSandbox forks). Start-up costs about a
second once per worker; a call costs one pipe round trip.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

START_TIMEOUT_S = 120  # importing lxml/trafilatura on a cold, busy worker can take a while


class HelperCrashed(RuntimeError):
    """The helper process died during a call (killed for memory, or crashed in native code)."""


class HelperCallFailed(RuntimeError):
    """The function raised inside the helper; the message carries its class and text."""


WARM_UP = "<html><body><p>warm up</p></body></html>"


def _serve(conn: Connection, fn: Callable) -> None:
    # What a helper logs (trafilatura's per-page warnings) says nothing the caller does not record itself.
    logging.basicConfig(level=logging.INFO if os.environ.get("CORPUSMILL_VERBOSE") == "1" else logging.ERROR)
    fn(WARM_UP)
    conn.send(("ready", None))
    while True:
        try:
            arg = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", fn(arg)))
        except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
            conn.send(("error", f"{type(err).__name__}: {err}"))


_MAIN_LOCK = threading.Lock()


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """A spawned child imports its parent's __main__ unless that has no spec and no file. The helpers run
    importable functions only, and in a Beam worker __main__ is Beam's worker module: importing it again
    cost each helper a second and a screen of Beam's import warnings."""
    main = sys.modules["__main__"]
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    with _MAIN_LOCK:
        main.__spec__ = None
        main.__dict__.pop("__file__", None)
        try:
            yield
        finally:
            main.__dict__.update(saved)
            if "__spec__" not in saved:
                main.__dict__.pop("__spec__", None)


class TimeLimitedCall:
    """`call(arg)` runs `fn(arg)` in a spawned helper; TimeoutError after `timeout_s`, then a fresh helper.

    `fn` and `arg` must pickle; `fn` must accept the warm-up call `fn(WARM_UP)`.
    """

    def __init__(self, fn: Callable, timeout_s: float):
        self.fn = fn
        self.timeout_s = timeout_s
        self._proc = None
        self._conn: Connection | None = None

    def __getstate__(self) -> dict:
        return {"fn": self.fn, "timeout_s": self.timeout_s, "_proc": None, "_conn": None}

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.fn), daemon=True, name="corpusmill-helper")
        with main_module_hidden():
            self._proc.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self.close()
            raise HelperCrashed(f"helper process did not start within {START_TIMEOUT_S} s")
        try:
            self._conn.recv()
        except EOFError as err:
            self.close()
            raise HelperCrashed("helper process died while starting (is the function importable?)") from err

    def call(self, arg):
        if self._proc is None or not self._proc.is_alive():
            self.close()
            self._start()
        try:
            self._conn.send(arg)
            if not self._conn.poll(self.timeout_s):
                self.close()
                raise TimeoutError(f"no result within {self.timeout_s} s")
            status, value = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as err:
            self.close()
            raise HelperCrashed(f"helper process died: {err!r}") from err
        if status == "error":
            raise HelperCallFailed(value)
        return value

    def close(self) -> None:
        """Stop the helper (kill it if it does not stop at once)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(timeout=5)
            self._proc = None
