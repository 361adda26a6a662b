"""Record readers for WARC/ARC, WET, JSONL and Parquet: plain Python over a binary stream, no Beam.

Each reader yields `ReadEvent`s: a readable record, a record skipped by kind (WARC
request/metadata/…), a removal (a response that is not an HTML page) or an error (an
unreadable record, with the file and offset). Nothing read is dropped silently.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from typing import BinaryIO, Literal

from corpusmill.pipelines.io.read_events import ReadEvent, read_error
from corpusmill.pipelines.io.warc import is_arc, next_member_start, read_arc, read_warc
from corpusmill.schemas.config import InputConfig
from corpusmill.schemas.records import CARRIED_COLUMNS, RawRecord, stable_id

InputFormat = Literal["warc", "wet", "jsonl", "parquet"]

_SUFFIXES: tuple[tuple[str, InputFormat], ...] = (
    (".warc.wet.gz", "wet"), (".wet.gz", "wet"), (".wet", "wet"),
    (".warc.gz", "warc"), (".warc", "warc"), (".warc.lz4", "warc"), (".warc.zst", "warc"),
    (".arc.gz", "warc"), (".arc", "warc"),
    (".jsonl.gz", "jsonl"), (".jsonl", "jsonl"), (".json.gz", "jsonl"), (".ndjson", "jsonl"),
    (".jsonl.zst", "jsonl"), (".parquet", "parquet"),
)


def detect_format(path: str) -> InputFormat | None:
    """The input format implied by a file name, or None when the suffix is unknown."""
    lower = path.lower()
    for suffix, fmt in _SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def splittable(path: str, fmt: InputFormat) -> bool:
    """True when a file may be read in byte ranges: a gzip-compressed WARC or WET file."""
    return fmt in ("warc", "wet") and path.lower().endswith((".warc.gz", ".wet.gz"))


def byte_ranges(path: str, fmt: InputFormat, size: int, range_bytes: int) -> list[tuple[int, int | None]]:
    """[start, end) byte ranges covering a file (end None: to the end of the file); one unless splittable.

    The ranges of a file are of equal size, at most `range_bytes`: the local runner hands each worker a
    fixed share of the ranges, and a short last range per file left one core idle at the end of a run
    (20,000 pages in 4 files: one worker had 18% more work than the other)."""
    if not splittable(path, fmt) or size <= range_bytes:
        return [(0, None)]
    count = -(-size // range_bytes)
    starts = [size * i // count for i in range(count)]
    return [(a, b) for a, b in zip(starts, [*starts[1:], None], strict=True)]


def read_records(
    path: str, fmt: InputFormat, open_stream: Callable[[], BinaryIO], source: str, fields: InputConfig,
    verify_digests: bool = True, byte_range: tuple[int, int | None] = (0, None),
) -> Iterator[ReadEvent]:
    """Every event of one input file, or of the records that begin in `byte_range` of a splittable one;
    `open_stream` returns a fresh raw (undecompressed) stream.

    A range owns the records whose gzip member begins in it: it reads from its first member to the first
    member at or past its end, so the ranges of a file read each record exactly once (a file that is one
    gzip stream has no member past byte 0, and its first range reads it all).

    With `verify_digests`, a WARC response whose WARC-Block-Digest does not match its bytes
    (a truncated or corrupted record) becomes an error instead of a document.
    """
    if fmt in ("warc", "wet"):
        start, end = byte_range
        if start > 0:
            start = next_member_start(open_stream, start, end)
            if start is None:
                return  # no record begins in this range: the one before reads across it
        stop = next_member_start(open_stream, end) if end is not None else None
        if start == 0 and is_arc(open_stream):
            yield from read_arc(path, open_stream, source)
        else:
            yield from read_warc(path, open_stream, source, fmt, verify_digests, start, stop)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, open_stream, source, fields)
    elif fmt == "parquet":
        yield from _read_parquet(path, open_stream, source, fields)
    else:
        raise ValueError(f"unknown input format {fmt!r}")


# --- JSONL / Parquet -------------------------------------------------------------------------

def _row_to_event(path: str, row: object, offset: int, source: str, fields: InputConfig) -> ReadEvent:
    if not isinstance(row, dict):
        return read_error(path, f"expected a JSON object, got {type(row).__name__}", offset)
    text = row.get(fields.text_field)
    if not isinstance(text, str):
        found = "missing" if text is None else f"a {type(text).__name__}"
        return read_error(path, f"field {fields.text_field!r} must be a string, is {found}", offset)
    own_id = row.get(fields.id_field)
    doc_id = str(own_id) if own_id not in (None, "") else stable_id(path, str(offset))
    url = row.get(fields.url_field)
    lang = row.get(fields.lang_field)
    return ReadEvent(record=RawRecord(doc_id, source, path, offset, str(url) if url else None,
                                      text=text, lang=lang if isinstance(lang, str) else None))


def _read_jsonl(path: str, open_stream: Callable[[], BinaryIO], source: str, fields: InputConfig
                ) -> Iterator[ReadEvent]:
    with open_stream() as raw:
        stream = _decompressed(path, raw)
        offset = 0
        try:
            for line in stream:
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
                    yield read_error(path, f"invalid JSON line: {err}", start)
                    continue
                yield _row_to_event(path, row, start, source, fields)
        except (OSError, EOFError) as err:
            yield read_error(path, f"unreadable data after byte {offset} of the decompressed stream: {err}", offset)


def _decompressed(path: str, raw: BinaryIO) -> BinaryIO:
    lower = path.lower()
    if lower.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if lower.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
    return raw


def _read_parquet(path: str, open_stream: Callable[[], BinaryIO], source: str, fields: InputConfig
                  ) -> Iterator[ReadEvent]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row_index = 0
    with open_stream() as stream:
        try:
            parquet = pq.ParquetFile(stream)
            names = parquet.schema_arrow.names
            # A corpusmill documents/ table keeps every column through later stages.
            carries = all(c in names for c in CARRIED_COLUMNS)
            wanted = [c for c in (fields.id_field, fields.text_field, fields.url_field, fields.lang_field)
                      if c in names] + (list(CARRIED_COLUMNS) if carries else [])
            for batch in parquet.iter_batches(columns=wanted, batch_size=1024):
                for row in batch.to_pylist():
                    event = _row_to_event(path, row, row_index, source, fields)
                    if carries and event.record is not None:
                        event.record.carried = {c: row[c] for c in CARRIED_COLUMNS}
                    yield event
                    row_index += 1
        except (pa.ArrowException, OSError) as err:
            yield read_error(path, f"unreadable Parquet data at row {row_index}: {err}", row_index)
