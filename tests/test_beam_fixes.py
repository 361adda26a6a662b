"""The fix for the data race in Beam's local runner (pipelines/beam_fixes.py)."""

from apache_beam.runners.worker import data_plane

from corpusmill.pipelines.beam_fixes import fix_runner_data_race


def _sent(writes: list[bytes]) -> bytes:
    """Write through the runner's time-flushed stream (flushed every millisecond); what reached the worker."""
    received: list[bytes] = []
    stream = data_plane.TimeBasedBufferingClosableOutputStream(
        received.append, flush_callback=received.append, time_flush_threshold_ms=1)
    for chunk in writes:
        stream.write(chunk)
    stream.close()
    return b"".join(received)


def test_nothing_written_is_lost_while_the_stream_flushes():
    fix_runner_data_race()
    fix_runner_data_race()  # twice is once
    writes = [i.to_bytes(4, "big") * 64 for i in range(200_000)]
    assert _sent(writes) == b"".join(writes)
