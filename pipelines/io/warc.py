"""WARC (0.17 to 1.1, plain or compressed per record), WET and ARC files as ReadEvents.

One record that cannot be parsed costs one error row for that record, never the rest of its
file: a response without HTTP headers, a `dns:`, `whois:`, `ftp:` or `filedesc:` record, a
garbled HTTP header, a missing Content-Type all go through (removed with a reason when they
are not HTML pages). When the container itself breaks (a corrupt gzip member, a mangled WARC
header), fastwarc cannot go on; the reader then looks for the next record that starts
cleanly, reports the bytes in between as one error, and goes on reading from there.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Callable, Generator, Iterator
from typing import BinaryIO

from corpusmill.pipelines.io.http_payload import decode_http_payload, is_html, media_type
from corpusmill.pipelines.io.read_events import STAGE, ReadEvent, read_error
from corpusmill.schemas.records import RawRecord, Removal, stable_id

OpenStream = Callable[[], BinaryIO]
READER = "warc_reader"
READER_SCORES = ("http.status", "http.payload_bytes")  # the scores of the reader's removals
_RECORD_KINDS = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
                 "continuation", "unknown")
# A record may start here: a gzip member, or a WARC version line (0.17 and 0.18 are pre-standard, 2008-ish).
_RECORD_START = re.compile(rb"\x1f\x8b\x08|WARC/[01]\.[0-9]+\r?\n")
# Where a byte range of a record-per-member file may begin: a gzip member that holds a WARC header. A
# version line alone is not enough there, as a deflate block may store raw bytes that look like one.
_MEMBER_START = re.compile(rb"\x1f\x8b\x08")
SCAN_CHUNK_BYTES = 1 << 20
_HTTP_SCHEMES = ("http:", "https:")


def read_warc(path: str, open_stream: OpenStream, source: str, fmt: str, verify_digests: bool, start: int = 0,
              stop: int | None = None) -> Iterator[ReadEvent]:
    """Every event of a WARC or WET file whose record begins in [start, stop) (`start` a record's first
    byte, `stop` None for the end of the file), resynchronising after a broken stretch."""
    broken_since, broken_why = None, ""
    while True:
        failure = yield from _read_from(path, open_stream, source, fmt, verify_digests, start, stop)
        read_some = failure is None or failure[1] > 0
        if broken_since is not None and read_some:
            yield read_error(path, f"unreadable WARC data after the record at byte {broken_since}, up to byte "
                             f"{start} where reading went on: {broken_why}", broken_since)
            broken_since = None
        if failure is None:
            return
        last_start, _, why = failure
        if broken_since is None:
            broken_since, broken_why = last_start, why
        resume = next_record_start(open_stream, last_start + 1)
        if resume is None or (stop is not None and resume >= stop):
            end = "the end of the file" if resume is None else f"byte {stop}, where the next byte range begins"
            yield read_error(path, f"unreadable WARC data after the record at byte {broken_since}, up to {end}: "
                             f"{broken_why}", broken_since)
            return
        start = resume


def _read_from(path: str, open_stream: OpenStream, source: str, fmt: str, verify_digests: bool, start: int,
               stop: int | None) -> Generator[ReadEvent, None, tuple[int, int, str] | None]:
    """Read records from byte `start` to the first one at or past `stop`; returns None at the end, or (start
    of the last record seen, records read, error) when the container broke."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    last, n = start, 0
    with open_stream() as stream:
        _skip(stream, start)
        origin = _origin(stream, start)
        records = ArchiveIterator(stream, parse_http=False, record_types=WarcRecordType.any_type)
        try:
            for rec in records:
                if stop is not None and origin + rec.stream_pos >= stop:
                    return None  # the next byte range's first record
                last, n = origin + rec.stream_pos, n + 1
                try:
                    yield _event(path, rec, source, fmt, verify_digests, last)
                except Exception as err:  # noqa: BLE001 - one bad record costs one error row, never its file
                    yield read_error(path, err, last, rec.record_id)
        except OSError as err:
            return last, n, f"{type(err).__name__}: {err}"
    return None


def _event(path: str, rec, source: str, fmt: str, verify_digests: bool, offset: int) -> ReadEvent:
    kind = _kind_name(rec.record_type)
    if kind == "response" and fmt == "warc":
        return _warc_response(path, rec, source, verify_digests, offset)
    if kind == "conversion" and fmt == "wet":
        doc_id, url, date = _record_identity(rec)
        text = rec.reader.read().decode("utf-8", errors="replace")
        return ReadEvent(record=RawRecord(doc_id, source, path, offset, url, date, text=text))
    return ReadEvent(skipped_kind=kind)


def _kind_name(record_type: int) -> str:
    from fastwarc.warc import WarcRecordType

    for name in _RECORD_KINDS:
        if int(record_type) == int(getattr(WarcRecordType, name)):
            return name
    return "unknown"


def _record_identity(rec) -> tuple[str, str | None, str | None]:
    record_id = rec.record_id or ""
    # WARC/1.0 writers such as wget put the URI in angle brackets
    url = (rec.headers.get("WARC-Target-URI") or "").strip().strip("<>") or None
    date = rec.headers.get("WARC-Date")
    return stable_id(record_id or f"{url}|{rec.headers.get('WARC-Payload-Digest')}"), url, date


def _warc_response(path: str, rec, source: str, verify_digests: bool, offset: int) -> ReadEvent:
    doc_id, url, date = _record_identity(rec)
    if verify_digests and "WARC-Block-Digest" in rec.headers and not rec.verify_block_digest(consume=False):
        return read_error(path, "WARC block digest mismatch: record truncated or corrupt", offset, rec.record_id)
    if not (url or "").lower().startswith(_HTTP_SCHEMES):
        # dns:, whois:, ftp:, filedesc: and the like: crawl bookkeeping, not web pages
        payload_bytes = len(rec.reader.read())
        return _removal(doc_id, path, offset, url, "non_http_response", None, payload_bytes,
                        (url or "no URI").split(":", 1)[0] + ":")
    status, declared, headers = None, media_type(rec.headers.get("Content-Type")), None
    if rec.is_http:  # the block is an HTTP message (Content-Type application/http)
        try:
            rec.parse_http()
        except OSError as err:
            return read_error(path, f"malformed HTTP response: {err}", offset, rec.record_id)
        headers = rec.http_headers
        status = headers.status_code if headers is not None else None
        declared = media_type(rec.http_content_type)
    payload = rec.reader.read()
    if headers is not None:
        payload = decode_http_payload(payload, headers)
    if status is not None and not 200 <= status < 300:
        return _removal(doc_id, path, offset, url, "http_status_not_ok", status, len(payload), str(status))
    if not is_html(declared, payload):
        return _removal(doc_id, path, offset, url, "non_html_payload", status, len(payload), declared or "none")
    charset = rec.http_charset if headers is not None else None
    return ReadEvent(record=RawRecord(doc_id, source, path, offset, url, date, html=payload, http_charset=charset))


def _removal(doc_id: str, path: str, offset: int, url: str | None, reason: str, status: int | None,
             payload_bytes: int, detail: str) -> ReadEvent:
    scores = {"http.status": float(status or 0), "http.payload_bytes": float(payload_bytes)}
    return ReadEvent(removal=Removal(doc_id, STAGE, READER, reason, path, offset, url, scores, detail=detail))


# --- resynchronising after a broken stretch ----------------------------------------------------

def _skip(stream: BinaryIO, n: int) -> None:
    if n == 0:
        return
    if stream.seekable():
        stream.seek(n)
        return
    while n > 0:
        chunk = stream.read(min(n, SCAN_CHUNK_BYTES))
        if not chunk:
            return
        n -= len(chunk)


def _origin(stream: BinaryIO, start: int) -> int:
    """What to add to fastwarc's `stream_pos` for a file offset: fastwarc counts from the stream's own
    position (`tell()`), which is already the file offset on a seekable stream, and from where it began
    reading on one that cannot tell."""
    try:
        return start - stream.tell()
    except (OSError, AttributeError, ValueError):
        return start


def next_record_start(open_stream: OpenStream, pos: int, limit: int | None = None,
                      pattern: re.Pattern = _RECORD_START) -> int | None:
    """The first byte in [pos, limit) (limit None: to the end) where a WARC record starts cleanly, or None."""
    with open_stream() as stream:
        _skip(stream, pos)
        base, carry = pos, b""
        while (limit is None or base < limit) and (chunk := stream.read(SCAN_CHUNK_BYTES)):
            data = carry + chunk
            for match in pattern.finditer(data):
                candidate = base - len(carry) + match.start()
                if limit is not None and candidate >= limit:
                    return None
                if candidate >= pos and _starts_record(open_stream, candidate):
                    return candidate
            carry = data[-32:]
            base += len(chunk)
    return None


def next_member_start(open_stream: OpenStream, pos: int, limit: int | None = None) -> int | None:
    """The first byte in [pos, limit) where a gzip member holding a WARC record begins, or None: where a
    byte range of a record-per-member file (Common Crawl's WARC and WET files) starts and ends."""
    return next_record_start(open_stream, pos, limit, _MEMBER_START)


def _starts_record(open_stream: OpenStream, pos: int) -> bool:
    with open_stream() as stream:
        _skip(stream, pos)
        head = stream.read(4096)
    if head[:3] == b"\x1f\x8b\x08":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4096)
        except zlib.error:
            return False
    return head.startswith(b"WARC/") and b"\nWARC-Type:" in head.split(b"\r\n\r\n", 1)[0]


# --- ARC ---------------------------------------------------------------------------------------

def is_arc(open_stream: OpenStream) -> bool:
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


def read_arc(path: str, open_stream: OpenStream, source: str) -> Iterator[ReadEvent]:
    """Every event of an ARC file. fastwarc reads WARC only; warcio converts ARC records on the fly."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    offset = 0
    with open_stream() as stream:
        records = ArchiveIterator(stream, arc2warc=True)
        try:
            for rec in records:
                offset = records.get_record_offset()
                try:
                    yield _arc_event(path, rec, source, offset)
                except Exception as err:  # noqa: BLE001 - one bad record costs one error row, never its file
                    yield read_error(path, err, offset)
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as err:
            yield read_error(path, f"unreadable ARC data after offset {offset}: {err}", offset)


def _arc_event(path: str, rec, source: str, offset: int) -> ReadEvent:
    if rec.rec_type != "response":
        return ReadEvent(skipped_kind=rec.rec_type)
    url = rec.rec_headers.get_header("WARC-Target-URI")
    doc_id = stable_id(rec.rec_headers.get_header("WARC-Record-ID") or f"{path}|{offset}")
    payload = rec.content_stream().read()
    if not (url or "").lower().startswith(_HTTP_SCHEMES):
        return _removal(doc_id, path, offset, url, "non_http_response", None, len(payload),
                        (url or "no URI").split(":", 1)[0] + ":")
    headers = rec.http_headers
    ctype = (headers.get_header("Content-Type") or "") if headers else ""
    status = int(headers.get_statuscode()) if headers and (headers.get_statuscode() or "").isdigit() else None
    if status is not None and not 200 <= status < 300:
        return _removal(doc_id, path, offset, url, "http_status_not_ok", status, len(payload), str(status))
    declared = media_type(ctype)
    if not is_html(declared, payload):
        return _removal(doc_id, path, offset, url, "non_html_payload", status, len(payload), declared or "none")
    charset = ctype.partition("charset=")[2].strip(" \"'") or None
    return ReadEvent(record=RawRecord(doc_id, source, path, offset, url, rec.rec_headers.get_header("WARC-Date"),
                                      html=payload, http_charset=charset))
