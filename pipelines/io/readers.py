"""Record readers for WARC/ARC, WET, JSONL and Parquet: plain Python over a binary stream, no Beam.

Each reader yields `ReadEvent`s: a readable record, a record skipped by kind (WARC
request/metadata/…), a removal (a response that is not an HTML page) or an error (an
unreadable record, with the file and offset). Nothing read is dropped silently.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from corpusmill.schemas.config import InputConfig
from corpusmill.schemas.records import CARRIED_COLUMNS, ErrorRecord, RawRecord, Removal, stable_id

InputFormat = Literal["warc", "wet", "jsonl", "parquet"]
STAGE = "read"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_SUFFIXES: tuple[tuple[str, InputFormat], ...] = (
    (".warc.wet.gz", "wet"), (".wet.gz", "wet"), (".wet", "wet"),
    (".warc.gz", "warc"), (".warc", "warc"), (".warc.lz4", "warc"), (".warc.zst", "warc"),
    (".arc.gz", "warc"), (".arc", "warc"),
    (".jsonl.gz", "jsonl"), (".jsonl", "jsonl"), (".json.gz", "jsonl"), (".ndjson", "jsonl"),
    (".jsonl.zst", "jsonl"), (".parquet", "parquet"),
)


@dataclass(frozen=True)
class ReadEvent:
    """One outcome of reading: exactly one of record / skipped_kind / removal / error is set."""

    record: RawRecord | None = None
    skipped_kind: str | None = None
    removal: Removal | None = None
    error: ErrorRecord | None = None


def detect_format(path: str) -> InputFormat | None:
    """The input format implied by a file name, or None when the suffix is unknown."""
    lower = path.lower()
    for suffix, fmt in _SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def read_records(
    path: str, fmt: InputFormat, open_stream: Callable[[], BinaryIO], source: str, fields: InputConfig,
    verify_digests: bool = True,
) -> Iterator[ReadEvent]:
    """Every event of one input file; `open_stream` returns a fresh raw (undecompressed) stream.

    With `verify_digests`, a WARC response whose WARC-Block-Digest does not match its bytes
    (a truncated or corrupted record) becomes an error instead of a document.
    """
    if fmt in ("warc", "wet"):
        if _is_arc(open_stream):
            yield from _read_arc(path, open_stream, source)
        else:
            yield from _read_warc(path, open_stream, source, fmt, verify_digests)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, open_stream, source, fields)
    elif fmt == "parquet":
        yield from _read_parquet(path, open_stream, source, fields)
    else:
        raise ValueError(f"unknown input format {fmt!r}")


def _error(path: str, err: BaseException | str, offset: int | None, record_id: str | None = None) -> ReadEvent:
    cls = type(err).__name__ if isinstance(err, BaseException) else "MalformedRecord"
    return ReadEvent(error=ErrorRecord(path, STAGE, cls, str(err), offset, record_id))


# --- WARC / WET ------------------------------------------------------------------------------

_RECORD_KINDS = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
                 "continuation", "unknown")


def _kind_name(record_type: int) -> str:
    from fastwarc.warc import WarcRecordType

    for name in _RECORD_KINDS:
        if int(record_type) == int(getattr(WarcRecordType, name)):
            return name
    return "unknown"


def _read_warc(path: str, open_stream: Callable[[], BinaryIO], source: str, fmt: str, verify_digests: bool
               ) -> Iterator[ReadEvent]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    offset: int | None = 0
    with open_stream() as stream:
        records = ArchiveIterator(stream, parse_http=False, record_types=WarcRecordType.any_type)
        try:
            for rec in records:
                offset = rec.stream_pos
                kind = _kind_name(rec.record_type)
                if kind == "response" and fmt == "warc":
                    try:
                        yield _warc_response(path, rec, source, verify_digests)
                    except OSError as err:
                        yield _error(path, f"unreadable WARC record: {err}", offset, rec.record_id)
                elif kind == "conversion" and fmt == "wet":
                    yield _wet_conversion(path, rec, source)
                else:
                    yield ReadEvent(skipped_kind=kind)
        except OSError as err:
            # fastwarc cannot resynchronise after a malformed header or a broken gzip member:
            # the rest of the file is unreadable and recorded as one error at the last good offset.
            yield _error(path, f"unreadable WARC data after offset {offset}: {err}", offset)


def _record_identity(rec) -> tuple[str, str | None, str | None]:
    record_id = rec.record_id or ""
    # WARC/1.0 writers such as wget put the URI in angle brackets
    url = (rec.headers.get("WARC-Target-URI") or "").strip().strip("<>") or None
    date = rec.headers.get("WARC-Date")
    return stable_id(record_id or f"{url}|{rec.headers.get('WARC-Payload-Digest')}"), url, date


def _warc_response(path: str, rec, source: str, verify_digests: bool) -> ReadEvent:
    doc_id, url, date = _record_identity(rec)
    offset = rec.stream_pos
    if verify_digests and "WARC-Block-Digest" in rec.headers and not rec.verify_block_digest(consume=False):
        return _error(path, "WARC block digest mismatch: record truncated or corrupt", offset, rec.record_id)
    try:
        rec.parse_http()
    except OSError as err:
        return _error(path, f"malformed HTTP response: {err}", offset, rec.record_id)
    status = rec.http_headers.status_code if rec.is_http else None
    content_type = (rec.http_content_type or "").lower()
    reason = None
    if status is not None and not 200 <= status < 300:
        reason = "http_status_not_ok"
    elif content_type not in HTML_TYPES:
        reason = "non_html_payload"
    payload = _decode_http_payload(rec.reader.read(), rec.http_headers)
    if reason is not None:
        removal = Removal(doc_id, STAGE, "warc_reader", reason, path, offset, url,
                          {"http.status": float(status or 0), "http.payload_bytes": float(len(payload))})
        return ReadEvent(removal=removal)
    return ReadEvent(record=RawRecord(doc_id, source, path, offset, url, date, html=payload,
                                      http_charset=rec.http_charset))


def _decode_http_payload(payload: bytes, headers) -> bytes:
    """Undo transfer and content encodings when the payload really carries them.

    Crawlers often store payloads already de-chunked or decompressed while keeping the
    original headers, so each decoding is tried and skipped when the bytes do not fit it.
    """
    transfer = (headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in transfer:
        payload = _dechunk(payload)
    encoding = (headers.get("Content-Encoding") or "").lower().strip()
    try:
        if encoding in ("gzip", "x-gzip") and payload[:2] == b"\x1f\x8b":
            payload = gzip.decompress(payload)
        elif encoding == "deflate":
            payload = zlib.decompress(payload, zlib.MAX_WBITS if payload[:1] == b"\x78" else -zlib.MAX_WBITS)
        elif encoding == "br":
            payload = _brotli_decompress(payload)
    except (OSError, EOFError, zlib.error):
        pass  # stored decoded despite the header; keep the bytes as they are
    return payload


def _brotli_decompress(payload: bytes) -> bytes:
    import brotli

    try:
        return brotli.decompress(payload)
    except brotli.error:
        return payload


def _dechunk(payload: bytes) -> bytes:
    """Decode HTTP chunked transfer encoding; the payload unchanged when it is not chunked."""
    out = bytearray()
    pos = 0
    while pos < len(payload):
        eol = payload.find(b"\r\n", pos)
        if eol < 0:
            return payload
        size_field = payload[pos:eol].split(b";")[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return payload if pos == 0 else bytes(out)
        if size == 0:
            return bytes(out)
        out += payload[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2
    return bytes(out)


def _wet_conversion(path: str, rec, source: str) -> ReadEvent:
    doc_id, url, date = _record_identity(rec)
    raw = rec.reader.read()
    text = raw.decode("utf-8", errors="replace")
    return ReadEvent(record=RawRecord(doc_id, source, path, rec.stream_pos, url, date, text=text))


def _is_arc(open_stream: Callable[[], BinaryIO]) -> bool:
    """ARC (the WARC predecessor) files start with a `filedesc://` record."""
    with open_stream() as stream:
        head = stream.read(64)
    if head[:2] == b"\x1f\x8b":
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(head)).read(16)
        except (OSError, EOFError):
            # 64 bytes are seldom a whole gzip member; a partial inflate is all we need
            with open_stream() as stream, gzip.GzipFile(fileobj=stream) as gz:
                try:
                    head = gz.read(16)
                except (OSError, EOFError):
                    return False
    return head.startswith(b"filedesc://")


def _read_arc(path: str, open_stream: Callable[[], BinaryIO], source: str) -> Iterator[ReadEvent]:
    # fastwarc reads WARC only; warcio converts ARC records to WARC on the fly.
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    offset = 0
    with open_stream() as stream:
        records = ArchiveIterator(stream, arc2warc=True)
        try:
            for rec in records:
                offset = records.get_record_offset()
                if rec.rec_type != "response":
                    yield ReadEvent(skipped_kind=rec.rec_type)
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                doc_id = stable_id(rec.rec_headers.get_header("WARC-Record-ID") or f"{path}|{offset}")
                ctype = (rec.http_headers.get_header("Content-Type") or "") if rec.http_headers else ""
                mime, _, params = ctype.partition(";")
                payload = rec.content_stream().read()
                if mime.strip().lower() not in HTML_TYPES:
                    yield ReadEvent(removal=Removal(doc_id, STAGE, "warc_reader", "non_html_payload", path,
                                                    offset, url))
                    continue
                charset = params.partition("charset=")[2].strip(" \"'") or None
                yield ReadEvent(record=RawRecord(doc_id, source, path, offset, url,
                                                 rec.rec_headers.get_header("WARC-Date"), html=payload,
                                                 http_charset=charset))
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as err:
            yield _error(path, f"unreadable ARC data after offset {offset}: {err}", offset)


# --- JSONL / Parquet -------------------------------------------------------------------------

def _row_to_event(path: str, row: object, offset: int, source: str, fields: InputConfig) -> ReadEvent:
    if not isinstance(row, dict):
        return _error(path, f"expected a JSON object, got {type(row).__name__}", offset)
    text = row.get(fields.text_field)
    if not isinstance(text, str):
        found = "missing" if text is None else f"a {type(text).__name__}"
        return _error(path, f"field {fields.text_field!r} must be a string, is {found}", offset)
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
                    yield _error(path, f"invalid JSON line: {err}", start)
                    continue
                yield _row_to_event(path, row, start, source, fields)
        except (OSError, EOFError) as err:
            yield _error(path, f"unreadable data after byte {offset} of the decompressed stream: {err}", offset)


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
            yield _error(path, f"unreadable Parquet data at row {row_index}: {err}", row_index)
