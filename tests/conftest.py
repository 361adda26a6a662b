"""Shared fixtures: the sample data folder, a WARC writer for generated bad input, a CLI runner."""

from __future__ import annotations

import io
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
