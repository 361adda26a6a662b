"""Helper processes: a start that fails (spawn, import, warm-up, time-out) costs one call, never the
caller; the shared buffer of TimeLimitedBytesCall carries any size both ways."""

import multiprocessing.context
import os
import pickle
import time

import pytest

from corpusmill.core import helper_process
from corpusmill.core.helper_process import (
    WARM_UP,
    HelperCallFailed,
    HelperCrashed,
    HelperStartFailed,
    TimeLimitedBytesCall,
    TimeLimitedCall,
)

BROKEN_IMPORT = "CORPUSMILL_TEST_HELPER_IMPORT_FAILS"
BROKEN_WARM_UP = "CORPUSMILL_TEST_HELPER_WARM_UP"

if os.environ.get(BROKEN_IMPORT) == "1":
    # set by a test before it spawns: the helper cannot import the module of its function
    raise ImportError("simulated: this module does not import in the helper")


def _echo(arg):
    if arg == WARM_UP and os.environ.get(BROKEN_WARM_UP) == "raise":
        raise RuntimeError("warm-up broke")
    if arg == WARM_UP and os.environ.get(BROKEN_WARM_UP) == "hang":
        time.sleep(60)
    return arg


def _upper(data: bytes, arg) -> bytes:
    if arg == "raise":
        raise ValueError("bad page")
    if arg == "crash":
        os._exit(3)
    if arg == "sleep":
        time.sleep(60)
    if arg == "slow":
        time.sleep(0.7)
    if arg == "grow":
        return data * 3
    return data.upper()


def _assert_works(helper) -> None:
    if isinstance(helper, TimeLimitedBytesCall):
        assert helper.call(b"abc", "x") == b"ABC"
    else:
        assert helper.call("abc") == "abc"


def _spawn_fails_once(monkeypatch) -> None:
    real_start = multiprocessing.context.SpawnProcess.start
    calls = []

    def start(self):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(24, "Too many open files")
        return real_start(self)

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start)


@pytest.fixture(params=["pickled", "bytes"])
def make_helper(request):
    made = []

    def make(timeout_s=10):
        kind, fn = (TimeLimitedCall, _echo) if request.param == "pickled" else (TimeLimitedBytesCall, _upper)
        helper = kind(fn, timeout_s)
        made.append(helper)
        return helper

    yield make
    for helper in made:
        helper.close()


def test_spawn_failure_fails_one_call_then_a_fresh_start(make_helper, monkeypatch):
    _spawn_fails_once(monkeypatch)
    helper = make_helper()
    with pytest.raises(HelperStartFailed, match="could not start a helper process: OSError.*Too many open files"):
        _assert_works(helper)
    helper.close()  # before the fix, close() killed a process that never started, and raised
    _assert_works(helper)


def test_import_error_in_the_helper_fails_one_call(make_helper, monkeypatch):
    helper = make_helper()
    monkeypatch.setenv(BROKEN_IMPORT, "1")
    with pytest.raises(HelperStartFailed, match="died while starting"):
        _assert_works(helper)
    monkeypatch.delenv(BROKEN_IMPORT)
    _assert_works(helper)


def test_warm_up_failure_fails_one_call(monkeypatch):
    helper = TimeLimitedCall(_echo, 10)
    try:
        monkeypatch.setenv(BROKEN_WARM_UP, "raise")
        with pytest.raises(HelperStartFailed, match="RuntimeError: warm-up broke"):
            helper.call("abc")
        monkeypatch.delenv(BROKEN_WARM_UP)
        assert helper.call("abc") == "abc"
    finally:
        helper.close()


def test_start_timeout_kills_the_silent_helper(monkeypatch):
    monkeypatch.setattr(helper_process, "START_TIMEOUT_S", 2)
    monkeypatch.setenv(BROKEN_WARM_UP, "hang")
    helper = TimeLimitedCall(_echo, 10)
    try:
        with pytest.raises(HelperStartFailed, match="did not start within 2 s"):
            helper.call("abc")
        assert helper._proc is None and helper._channel is None
        monkeypatch.delenv(BROKEN_WARM_UP)
        assert helper.call("abc") == "abc"
    finally:
        helper.close()


def test_a_start_failure_is_still_a_crash_for_callers_that_catch_crashes():
    # synth/verifiers/math_answers.py turns HelperCrashed into a verifier_error verdict
    assert issubclass(HelperStartFailed, HelperCrashed)


def test_bytes_call_carries_any_size_both_ways():
    helper = TimeLimitedBytesCall(_upper, 10)
    try:
        big = bytes(range(256)) * 20_000  # 5 MB, past the first buffer
        assert helper.call(big) == big.upper()
        assert helper.call(big, "grow") == big * 3  # a result larger than the buffer the data needed
        assert helper.call(b"") == b""
        items = [(bytes([i]) * (i * 1000), None) for i in range(100)]
        assert helper.call_many(items) == [data.upper() for data, _ in items]
    finally:
        helper.close()


def test_a_stuck_item_costs_only_itself():
    helper = TimeLimitedBytesCall(_upper, 1)
    try:
        started = time.monotonic()
        outcomes = helper.call_many([(b"a", None), (b"b", "sleep"), (b"c", None), (b"d", "raise"), (b"e", None)])
        assert time.monotonic() - started < 20
        assert outcomes[0] == b"A" and isinstance(outcomes[1], TimeoutError) and outcomes[2] == b"C"
        assert isinstance(outcomes[3], HelperCallFailed) and "ValueError: bad page" in str(outcomes[3])
        assert outcomes[4] == b"E"
        # the limit is per item: a batch longer than timeout_s in all is fine
        assert helper.call_many([(b"x", "slow")] * 3) == [b"X"] * 3
    finally:
        helper.close()


def test_a_crash_in_a_batch_costs_only_its_item():
    helper = TimeLimitedBytesCall(_upper, 10)
    try:
        outcomes = helper.call_many([(b"a", None), (b"b", "crash"), (b"c", None)])
        assert outcomes[0] == b"A" and isinstance(outcomes[1], HelperCrashed) and outcomes[2] == b"C"
        os.kill(helper._proc.pid, 9)  # dies between calls: the next batch goes to a new helper, none lost
        helper._proc.join()
        assert helper.call_many([(b"d", None)]) == [b"D"]
    finally:
        helper.close()


def test_start_failure_in_a_batch_is_one_items_error(monkeypatch):
    _spawn_fails_once(monkeypatch)
    helper = TimeLimitedBytesCall(_upper, 10)
    try:
        outcomes = helper.call_many([(b"a", None), (b"b", None)])
        assert isinstance(outcomes[0], HelperStartFailed) and outcomes[1] == b"B"
    finally:
        helper.close()


def test_helpers_pickle_without_process_or_buffers():
    helper = TimeLimitedBytesCall(_upper, 10)
    try:
        helper.call(b"x")
        state = pickle.loads(pickle.dumps(helper)).__dict__
        assert state["_proc"] is None and state["_channel"] is None
        assert state["_inputs"] is None and state["_outputs"] is None
    finally:
        helper.close()
