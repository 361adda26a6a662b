"""Run a function in a helper process that is killed when one call takes too long.

Why a process and not a watchdog thread: the code that may never return can hold the GIL all along.
resiliparse (Rust) holds it for a whole parse and ignores signals: measured here, a main thread got no
tick during a 1 s extract_plain_text running in another thread, and a SIGALRM set for 0.1 s was
handled only when the 2.6 s call returned. A page stuck in the worker's own process would freeze the
worker, so only a process that can be killed bounds it.

The helper is started with `spawn`, not `fork`: Beam's SDK workers run gRPC and logging
threads, and a forked child inherits their locks in whatever state they were; measured
here, forked helpers inside a multi_processing DirectRunner hung or died on pages that
extract in milliseconds (datatrove's ExtractorSandbox forks). Start-up (spawn, imports, warm-up)
took 0.2 s for resiliparse and 0.5 s for trafilatura here, once per worker and after each kill.

Two kinds of helper. `TimeLimitedCall.call(arg)` pickles the argument and the result over a pipe, one
call at a time: for a few large-ish values (a math check). `TimeLimitedBytesCall.call_many(items)`
is for many small jobs on bytes (HTML pages): the items go over in one batch through a buffer both
processes map (a memfd), the results come back the same way, and only one small message crosses a
socket each way per batch. Each item still has its own time limit: the helper records in shared
memory how many items it has finished and when it started the current one, and the caller, woken only
when an item could be past its limit, kills the helper when the current item has run for `timeout_s`.
Only that item is lost: the results before it are in the buffer, the items after it go to a fresh
helper. Measured on one core, a round trip per page cost ~10% more than batches (core/extraction.py).

A helper that cannot start (spawn fails, its function does not import, it does not answer within
START_TIMEOUT_S) is HelperStartFailed for that call (or item) and leaves nothing behind: the next one
tries a fresh start.

One module past 500 lines: both kinds share start, stop and failure handling, and the transport
pieces (socket, shared buffer, passing a file descriptor) exist only for them.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import pickle
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import reduction
from multiprocessing.connection import Connection

START_TIMEOUT_S = 120  # importing lxml/trafilatura on a cold, busy worker can take a while
BUFFER_START_BYTES = 1 << 20  # grows to the largest batch or result seen
MAX_MESSAGE_BYTES = 1 << 14  # the socket carries only small messages (the data is in the buffers)
MAX_ERROR_CHARS = 2000
# The helper's progress, at the start of the output buffer: items finished, and the monotonic time at
# which the current item started; then one (status, offset, length) row per item; then the results.
_PROGRESS = struct.Struct("<qd")
_ROW = struct.Struct("<qqq")
_OK, _RAISED = 1, 2


class HelperCrashed(RuntimeError):
    """The helper process died during a call (killed for memory, or crashed in native code)."""


class HelperStartFailed(HelperCrashed):
    """The helper process could not be started; the next call tries again.

    A HelperCrashed, so that callers that only tell "the helper failed" from "the call failed" keep
    working; callers for whom a start failure is not the input's fault catch it first."""


class HelperCallFailed(RuntimeError):
    """The function raised inside the helper; the message carries its class and text."""


WARM_UP = "<html><body><p>warm up</p></body></html>"


def _quiet_logging() -> None:
    # What a helper logs (trafilatura's per-page warnings) says nothing the caller does not record itself.
    logging.basicConfig(level=logging.INFO if os.environ.get("CORPUSMILL_VERBOSE") == "1" else logging.ERROR)


def _warm_up(channel, warm_up: Callable[[], object]) -> bool:
    try:
        warm_up()
    except Exception as err:  # noqa: BLE001 - reported to the parent as a start failure
        channel.send(("failed", f"{type(err).__name__}: {err}"[:MAX_ERROR_CHARS]))
        return False
    channel.send(("ready", None))
    return True


def _serve(conn: Connection, fn: Callable) -> None:
    _quiet_logging()
    if not _warm_up(conn, lambda: fn(WARM_UP)):
        return
    while True:
        try:
            arg = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", fn(arg)))
        except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
            conn.send(("error", f"{type(err).__name__}: {err}"))


def _serve_bytes(channel: Packets, fn: Callable, inputs_fd: _PassedFd, outputs_fd: _PassedFd) -> None:
    _quiet_logging()
    inputs, outputs = SharedBuffer(inputs_fd.fd), SharedBuffer(outputs_fd.fd)
    if not _warm_up(channel, lambda: fn(WARM_UP.encode(), None)):
        return
    clock = time.monotonic
    while True:
        try:
            n, meta_offset, meta_size = channel.recv(None)
        except EOFError:
            return
        items = pickle.loads(inputs.read(meta_size, meta_offset))
        at = _PROGRESS.size + n * _ROW.size
        outputs.pack(_PROGRESS, 0, 0, clock())
        for i, (offset, size, arg) in enumerate(items):
            try:
                out, status = fn(inputs.read(size, offset), arg), _OK
            except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
                out, status = f"{type(err).__name__}: {err}"[:MAX_ERROR_CHARS].encode(), _RAISED
            outputs.write(out, at)
            outputs.pack(_ROW, _PROGRESS.size + i * _ROW.size, status, at, len(out))
            at += len(out)
            outputs.pack(_PROGRESS, 0, i + 1, clock())  # the next item starts now
        channel.send(n)


class Packets:
    """One end of a SOCK_SEQPACKET socket pair: each message is one pickled object sent by one syscall
    and received by one, the time limit kept by the kernel (SO_RCVTIMEO). A Connection takes a write
    for a send, a poll and two reads for a receive; measured here each costs 8-18 µs of CPU."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._timeout_s: float | None = None

    @classmethod
    def pair(cls) -> tuple[Packets, Packets] | tuple[_PipeEnd, _PipeEnd]:
        try:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except (AttributeError, OSError):  # no SEQPACKET for AF_UNIX (macOS): a pipe does the same, slower
            a, b = multiprocessing.get_context("spawn").Pipe()
            return _PipeEnd(a), _PipeEnd(b)
        return cls(a), cls(b)

    def __reduce__(self):
        return Packets, (self.sock,)  # multiprocessing passes the socket to a spawned child

    def send(self, obj) -> None:
        data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_MESSAGE_BYTES:
            raise ValueError(f"a helper message of {len(data)} bytes; at most {MAX_MESSAGE_BYTES}: "
                             "pass large values as bytes through the shared buffer")
        self.sock.send(data)

    def recv(self, timeout_s: float | None):
        """The next message; EOFError when the other end is gone, TimeoutError after `timeout_s`."""
        if timeout_s != self._timeout_s:
            seconds = timeout_s or 0  # 0: no limit
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                 struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))
            self._timeout_s = timeout_s
        try:
            data = self.sock.recv(MAX_MESSAGE_BYTES)
        except BlockingIOError as err:
            raise TimeoutError(f"no answer within {timeout_s} s") from err
        if not data:
            raise EOFError("the other end closed")
        return pickle.loads(data)

    def close(self) -> None:
        self.sock.close()


class _PipeEnd:
    """A Connection with the interface of Packets."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def send(self, obj) -> None:
        self.conn.send(obj)

    def recv(self, timeout_s: float | None):
        if timeout_s is not None and not self.conn.poll(timeout_s):
            raise TimeoutError(f"no answer within {timeout_s} s")
        return self.conn.recv()

    def close(self) -> None:
        self.conn.close()


class SharedBuffer:
    """A file both processes map; the writer grows it when what it writes does not fit, the reader
    maps the larger file when told to read past its end. Calls alternate, so they never race."""

    def __init__(self, fd: int):
        self.fd = fd
        self._map: mmap.mmap | None = None

    @classmethod
    def create(cls) -> SharedBuffer:
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("corpusmill-helper", os.MFD_CLOEXEC)
        else:  # no memfd (macOS): an unlinked temporary file serves the same way
            with tempfile.TemporaryFile() as f:
                fd = os.dup(f.fileno())
        os.ftruncate(fd, BUFFER_START_BYTES)
        return cls(fd)

    def _mapped(self, size: int) -> mmap.mmap:
        if self._map is None or len(self._map) < size:
            file_size = os.fstat(self.fd).st_size
            if file_size < size:
                file_size = max(size, 2 * file_size)
                os.ftruncate(self.fd, file_size)
            if self._map is not None:
                self._map.close()
            self._map = mmap.mmap(self.fd, file_size)
        return self._map

    def write(self, data: bytes, offset: int = 0) -> None:
        self._mapped(offset + len(data))[offset:offset + len(data)] = data

    def read(self, size: int, offset: int = 0) -> bytes:
        return self._mapped(offset + size)[offset:offset + size]

    def pack(self, fmt: struct.Struct, offset: int, *values) -> None:
        fmt.pack_into(self._mapped(offset + fmt.size), offset, *values)

    def unpack(self, fmt: struct.Struct, offset: int) -> tuple:
        return fmt.unpack_from(self._mapped(offset + fmt.size), offset)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _PassedFd:
    """A file descriptor for a spawned child: pickled while spawning, it reaches the child as the same
    open file (multiprocessing's own way of passing a Connection's pipe)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        return _PassedFd._rebuild, (reduction.DupFd(self.fd),)

    @staticmethod
    def _rebuild(dup) -> _PassedFd:
        return _PassedFd(dup.detach())


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


class _Helper:
    """A spawned helper process: started on first use, killed on a time-out, restarted by the next call."""

    def __init__(self, fn: Callable, timeout_s: float):
        self.fn = fn
        self.timeout_s = timeout_s
        self._proc = None
        self._channel = None

    def __getstate__(self) -> dict:
        # a process and its pipe never pickle: each copy starts its own
        return {"fn": self.fn, "timeout_s": self.timeout_s, "_proc": None, "_channel": None}

    def _channels(self) -> tuple:
        """(this side, the helper's side) of a new channel."""
        raise NotImplementedError

    def _serve_args(self) -> tuple[Callable, tuple]:
        """The helper's loop and its arguments after the channel."""
        raise NotImplementedError

    def _receive(self, timeout_s: float):
        """The helper's next message: TimeoutError after `timeout_s`, EOFError or OSError when it died."""
        raise NotImplementedError

    def _start(self) -> None:
        try:
            ours, theirs = self._channels()
        except OSError as err:  # out of file descriptors
            raise HelperStartFailed(f"could not open a channel to a helper process: {err}") from err
        try:
            target, args = self._serve_args()
            proc = multiprocessing.get_context("spawn").Process(
                target=target, args=(theirs, *args), daemon=True, name="corpusmill-helper")
            with main_module_hidden():
                proc.start()
        except Exception as err:  # noqa: BLE001 - spawn failed (no memory, no fds, an argument that does not pickle)
            ours.close()
            raise HelperStartFailed(f"could not start a helper process: {type(err).__name__}: {err}") from err
        finally:
            theirs.close()
        self._proc, self._channel = proc, ours
        try:
            status, detail = self._receive(START_TIMEOUT_S)
        except TimeoutError:
            status, detail = "silent", None
        except (EOFError, OSError):
            status, detail = "died", None
        if status == "ready":
            return
        self._stop()
        if status == "silent":
            raise HelperStartFailed(f"the helper process did not start within {START_TIMEOUT_S} s")
        if status == "failed":
            raise HelperStartFailed(f"the helper process failed its warm-up call: {detail}")
        raise HelperStartFailed(f"the helper process died while starting (exit code {proc.exitcode}); "
                                "is its function importable in a fresh interpreter?")

    def _send(self, message) -> None:
        try:
            self._channel.send(message)
        except (BrokenPipeError, ConnectionResetError):
            # it died between calls (killed for memory, say): the message never reached it
            self._stop()
            self._start()
            self._channel.send(message)

    def _request(self, message) -> tuple:
        """Send one request and wait for its answer. HelperStartFailed when no helper could be started;
        on TimeoutError or HelperCrashed the helper is gone and the next call starts another."""
        if self._proc is None:
            self._start()
        try:
            self._send(message)
            answer = self._receive(self.timeout_s)
        except TimeoutError:
            self._stop()
            raise TimeoutError(f"no result within {self.timeout_s} s") from None
        except (EOFError, OSError) as err:
            self._stop()
            raise HelperCrashed(f"helper process died: {err!r}") from err
        if answer[0] == "error":
            raise HelperCallFailed(answer[1])
        return answer

    def _stop(self) -> None:
        channel, proc = self._channel, self._proc
        self._channel = self._proc = None
        if channel is not None:
            channel.close()
        if proc is not None:
            proc.kill()
            proc.join(timeout=5)

    def close(self) -> None:
        """Stop the helper (kill it if it does not stop at once); safe when none runs or none could start."""
        self._stop()


class TimeLimitedCall(_Helper):
    """`call(arg)` runs `fn(arg)` in a spawned helper; TimeoutError after `timeout_s`, then a fresh helper.

    `fn` and `arg` must pickle; `fn` must accept the warm-up call `fn(WARM_UP)`. Argument and result
    go through a pipe, so they may be large.
    """

    def _channels(self) -> tuple[Connection, Connection]:
        return multiprocessing.get_context("spawn").Pipe()

    def _serve_args(self) -> tuple[Callable, tuple]:
        return _serve, (self.fn,)

    def _receive(self, timeout_s: float):
        if not self._channel.poll(timeout_s):
            raise TimeoutError(f"no answer within {timeout_s} s")
        return self._channel.recv()

    def call(self, arg):
        return self._request(arg)[1]


class TimeLimitedBytesCall(_Helper):
    """`call_many(items)` runs `fn(data, arg) -> bytes` on every (data, arg) in a spawned helper, in order,
    each item under its own `timeout_s`; returns per item the bytes or the exception that stands for it:
    TimeoutError, HelperCrashed, HelperStartFailed, HelperCallFailed (fn raised). `call(data, arg)` is
    one item, its exception raised.

    Data and results go through shared buffers; `arg` must pickle. `fn` must pickle and accept the
    warm-up call `fn(WARM_UP.encode(), None)`.
    """

    def __init__(self, fn: Callable, timeout_s: float):
        super().__init__(fn, timeout_s)
        self._inputs: SharedBuffer | None = None
        self._outputs: SharedBuffer | None = None

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "_inputs": None, "_outputs": None}

    def _channels(self) -> tuple:
        return Packets.pair()

    def _serve_args(self) -> tuple[Callable, tuple]:
        # The buffers outlive a killed helper: what it left half-written is never read.
        if self._inputs is None:
            self._inputs, self._outputs = SharedBuffer.create(), SharedBuffer.create()
        return _serve_bytes, (self.fn, _PassedFd(self._inputs.fd), _PassedFd(self._outputs.fd))

    def _receive(self, timeout_s: float):
        return self._channel.recv(timeout_s)

    def call(self, data: bytes, arg=None) -> bytes:
        [outcome] = self.call_many([(data, arg)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def call_many(self, items: list[tuple[bytes, object]]) -> list[bytes | Exception]:
        outcomes: list[bytes | Exception] = []
        while len(outcomes) < len(items):
            try:
                if self._proc is None:
                    self._start()
                outcomes += self._batch(items[len(outcomes):])
            except HelperStartFailed as err:
                outcomes.append(err)  # this item is the error; the next one tries a fresh start
        return outcomes

    def _batch(self, items: list[tuple[bytes, object]]) -> list[bytes | Exception]:
        """Outcomes of a prefix of `items`: all of them, or up to the one that stopped the helper."""
        meta, at = [], 0
        for data, arg in items:
            self._inputs.write(data, at)
            meta.append((at, len(data), arg))
            at += len(data)
        meta_bytes = pickle.dumps(meta, pickle.HIGHEST_PROTOCOL)
        self._inputs.write(meta_bytes, at)
        self._outputs.pack(_PROGRESS, 0, 0, time.monotonic())
        message = (len(items), at, len(meta_bytes))
        try:
            self._send(message)
            failure = self._wait(len(items))
        except (EOFError, OSError) as err:
            failure = HelperCrashed(f"helper process died: {err!r}")
        done = len(items) if failure is None else self._outputs.unpack(_PROGRESS, 0)[0]
        outcomes = [self._result(i) for i in range(min(done, len(items)))]
        if failure is not None:
            self._stop()
            if done < len(items):
                outcomes.append(failure)
        return outcomes

    def _wait(self, n: int) -> TimeoutError | None:
        """Wait for the batch; a TimeoutError when the item in progress has run for `timeout_s`."""
        seen, wait = 0, self.timeout_s
        while True:
            try:
                self._receive(wait)
                return None
            except TimeoutError:
                pass
            done, started = self._outputs.unpack(_PROGRESS, 0)
            running = time.monotonic() - started
            # Stuck only when the count has not moved since the last look: a `started` read while the
            # helper rewrote it may be the previous item's, and then the count has moved.
            if done == seen and running >= self.timeout_s:
                return TimeoutError(f"no result within {self.timeout_s} s")
            seen, wait = done, min(max(self.timeout_s - running, 0.05), self.timeout_s)

    def _result(self, i: int) -> bytes | Exception:
        status, offset, size = self._outputs.unpack(_ROW, _PROGRESS.size + i * _ROW.size)
        out = self._outputs.read(size, offset)
        return out if status == _OK else HelperCallFailed(out.decode("utf-8", "replace"))

    def close(self) -> None:
        super().close()
        for buffer in (self._inputs, self._outputs):
            if buffer is not None:
                buffer.close()
        self._inputs = self._outputs = None
