"""A mixture's sources: their files, the columns their `where` conditions name, a count of the rows
each source offers (checked before a build starts), and the rows of one file with the conditions
applied.

A condition names a column (`lang`, `cluster_size`) or a field of a struct column: the part before the
first dot is the column, the rest the field (`signals.gopher.word_count` is the field
`gopher.word_count` of `signals`; `domain.math` is `math` of `domain`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io.inputs import InputError, resolve_inputs
from corpusmill.pipelines.io.readers import _decompressed
from corpusmill.schemas.config import MixSourceConfig, WhereCondition

MIX_FORMATS = ("parquet", "jsonl")


@dataclass(frozen=True)
class SourceFile:
    source: str
    path: str
    format: str
    size: int


def source_files(sources: list[MixSourceConfig]) -> list[SourceFile]:
    """Every (source, file) of a mixture, in config order then path order; InputError for a source whose
    paths match nothing or a file that is neither Parquet nor JSONL."""
    files = []
    for source in sources:
        try:
            found = resolve_inputs(source.paths)
        except InputError as err:
            raise InputError(f"source {source.name!r}: {err}") from err
        for path, (fmt, size) in found.items():
            if fmt not in MIX_FORMATS:
                raise InputError(f"source {source.name!r}: {path} is {fmt}; a mixture reads Parquet or JSONL "
                                 "(curate or dedup outputs, or any file with a text column)")
            files.append(SourceFile(source.name, path, fmt, size))
    return files


def split_column(name: str, columns: set[str]) -> tuple[str, str | None]:
    """(column, struct field or None) named by a condition."""
    if name in columns or "." not in name:
        return name, None
    column, field = name.split(".", 1)
    return column, field


def file_columns(path: str, fmt: str) -> tuple[dict[str, set[str]], int]:
    """({column: struct field names}, rows) of a file: from the footer of Parquet, from the first record
    and the line count of JSONL."""
    with FileSystems.open(path, compression_type="uncompressed") as raw:
        if fmt == "parquet":
            parquet = pq.ParquetFile(raw)
            schema = parquet.schema_arrow
            columns = {f.name: {c.name for c in f.type} if f.type.num_fields else set() for f in schema}
            return columns, parquet.metadata.num_rows
        first, rows = None, 0
        for line in _decompressed(path, raw):
            if not line.strip():
                continue
            rows += 1
            if first is None:
                try:
                    first = json.loads(line)
                except ValueError:
                    continue  # a bad line becomes an error row when read
        first = first if isinstance(first, dict) else {}
        return {k: set(v) if isinstance(v, dict) else set() for k, v in first.items()}, rows


def check_columns(source: MixSourceConfig, path: str, columns: dict[str, set[str]]) -> None:
    """InputError when the file lacks the text column or a column or field a condition names."""
    if source.text_field not in columns:
        raise InputError(f"source {source.name!r}: {path} has no text column {source.text_field!r} "
                         f"(columns: {', '.join(sorted(columns))}); set text_field")
    for cond in source.where:
        column, field = split_column(cond.column, set(columns))
        if column not in columns or (field is not None and field not in columns[column]):
            have = sorted(columns) if column not in columns else sorted(f"{column}.{f}" for f in columns[column])
            raise InputError(f"source {source.name!r}: where names {cond.column!r}, which {path} does not have "
                             f"(it has: {', '.join(have) or 'nothing'})")


def value_of(row: dict, column: str, field: str | None):
    value = row.get(column)
    if field is None:
        return value
    return value.get(field) if isinstance(value, dict) else None


def meets(cond: WhereCondition, value) -> bool:
    if value is None:
        return False
    if cond.equals is not None:
        return value == cond.equals
    if cond.one_of is not None:
        return value in cond.one_of
    try:
        return (cond.min is None or value >= cond.min) and (cond.max is None or value <= cond.max)
    except TypeError:
        return False


def read_rows(path: str, fmt: str, columns: list[str]) -> Iterator[tuple[int, dict | Exception]]:
    """(row index or byte offset, row) of a file, or (offset, the exception) for a row that cannot be
    read; only `columns` of Parquet are read."""
    with FileSystems.open(path, compression_type="uncompressed") as raw:
        if fmt == "parquet":
            parquet = pq.ParquetFile(raw)
            wanted = [c for c in columns if c in parquet.schema_arrow.names]
            index = 0
            for batch in parquet.iter_batches(columns=wanted, batch_size=2048):
                for row in batch.to_pylist():
                    yield index, row
                    index += 1
            return
        offset = 0
        for line in _decompressed(path, raw):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                yield start, json.loads(line)
            except ValueError as err:
                yield start, err


def offered_documents(source: MixSourceConfig, files: list[SourceFile]) -> int:
    """How many documents with text a source's files offer under its conditions, counted before launch so
    that a source offering none is an error before any work. Parquet is counted by a polars lazy scan over
    all the source's shards at once (only the columns the conditions name are read: one expression, where
    pyarrow would need a loop over files and batches); JSONL row by row."""
    parquet = [f.path for f in files if f.format == "parquet"]
    total = 0
    if parquet:
        import polars as pl

        keep = pl.col(source.text_field).str.strip_chars().str.len_chars() > 0
        with FileSystems.open(parquet[0], compression_type="uncompressed") as raw:
            columns = set(pq.ParquetFile(raw).schema_arrow.names)
        needed = {source.text_field}
        for cond in source.where:
            column, field = split_column(cond.column, columns)
            keep = keep & _polars_condition(cond, column, field)
            needed.add(column)
        local = [p for p in parquet if "://" not in p]
        if local:
            total += pl.scan_parquet(local).filter(keep).select(pl.len()).collect().item()
        # Other schemes through Beam FileSystems, as the build reads them (polars' object-store clients
        # know gs:// and s3:// only, with credentials of their own), a batch of the needed columns at a time.
        for path in (p for p in parquet if "://" in p):
            with FileSystems.open(path, compression_type="uncompressed") as raw:
                for batch in pq.ParquetFile(raw).iter_batches(columns=sorted(needed & columns)):
                    total += pl.from_arrow(batch).filter(keep).height
    for file in files:
        if file.format != "jsonl":
            continue
        for _, row in read_rows(file.path, file.format, []):
            if isinstance(row, dict) and isinstance(row.get(source.text_field), str) and \
                    row[source.text_field].strip() and all(
                        meets(c, value_of(row, *split_column(c.column, set(row)))) for c in source.where):
                total += 1
    return total


def _polars_condition(cond: WhereCondition, column: str, field: str | None):
    import polars as pl

    value = pl.col(column) if field is None else pl.col(column).struct.field(field)
    if cond.equals is not None:
        return (value == cond.equals).fill_null(False)
    if cond.one_of is not None:
        return value.is_in(cond.one_of).fill_null(False)
    test = pl.lit(True)
    if cond.min is not None:
        test = test & (value >= cond.min)
    if cond.max is not None:
        test = test & (value <= cond.max)
    return test.fill_null(False)
