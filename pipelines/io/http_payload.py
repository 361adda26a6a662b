"""What a crawled HTTP response holds: its payload with transfer and content encodings undone, and
whether it is an HTML page (by its declared media type, or by its first bytes when none is declared)."""

from __future__ import annotations

import gzip
import re
import zlib

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SNIFF_BYTES = 1024
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html|<head|<body)", re.IGNORECASE | re.DOTALL)


def media_type(content_type: str | None) -> str | None:
    """`text/html` of `text/HTML; charset=utf-8`; None when nothing is declared."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return value or None


def is_html(declared: str | None, payload: bytes) -> bool:
    """An HTML page: declared so, or, with no media type declared (old crawls, broken servers),
    starting like one."""
    if declared is not None:
        return declared in HTML_TYPES
    return bool(_HTML_START.match(payload[:SNIFF_BYTES]))


def decode_http_payload(payload: bytes, headers) -> bytes:
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
