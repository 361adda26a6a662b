"""Problem and generation files (JSONL or Parquet) as rows, each with its offset: a byte offset in
JSONL, a row number in Parquet. Read through Beam FileSystems, so any scheme works."""

from __future__ import annotations

import json
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

from corpusmill.core.names import unique_names
from corpusmill.schemas.config import ProblemFieldsConfig
from corpusmill.schemas.samples import CODE_FORMATS, Problem
from corpusmill.synth.problems import problem_from_row


def jsonl_rows(path: str) -> Iterator[tuple[int, object | ValueError]]:
    """(byte offset, parsed row or the ValueError) for each non-blank line."""
    offset = 0
    with FileSystems.open(path) as f:
        for line in f:
            start, offset = offset, offset + len(line)
            if line.strip():
                try:
                    yield start, json.loads(line)
                except ValueError as err:
                    yield start, err


def _parquet_rows(path: str) -> Iterator[tuple[int, object]]:
    import pyarrow.parquet as pq

    with FileSystems.open(path, compression_type="uncompressed") as f:
        yield from enumerate(pq.read_table(f).to_pylist())


def has_code_problems(paths: list[str], fmt: str | None, fields: ProblemFieldsConfig | None) -> bool:
    """Whether any problem of these files is checked by running code (read until the first one)."""
    if fields is not None:
        return fields.kind == "code"
    if fmt is not None:
        return fmt in CODE_FORMATS
    return any(isinstance(p, Problem) and p.kind == "code" for path in paths for _, p in iter_problems(path, None))


class DuplicateProblemId(ValueError):
    """A problem whose id an earlier record of the same file has: an error, never a merge."""

    def __init__(self, problem: Problem, first_offset: int):
        super().__init__(f"duplicate problem id {problem.local_id!r}: the record at offset {first_offset} has it "
                         "too; ids must be unique within a problem file")
        self.problem = problem


def iter_problems(path: str, fmt: str | None, fields: ProblemFieldsConfig | None = None, source: str | None = None
                  ) -> Iterator[tuple[int, Problem | ValueError]]:
    """(offset, Problem or the ValueError saying why the record is not one) for a problem file; a
    repeated id within the file is a ValueError for its later records."""
    source = source or unique_names([path])[path]
    seen: dict[str, int] = {}
    rows = _parquet_rows(path) if path.endswith(".parquet") else jsonl_rows(path)
    for index, (offset, row) in enumerate(rows):
        try:
            if isinstance(row, ValueError):
                raise row
            problem = problem_from_row(row, index, source, fmt, fields)
            if problem.id in seen:
                raise DuplicateProblemId(problem, seen[problem.id])
            seen[problem.id] = offset
            yield offset, problem
        except ValueError as err:
            yield offset, err
