"""WARC files the way a 2008 Heritrix crawl wrote them (WARC/0.17, dns: and whois: responses, records
without HTTP headers or Content-Type), in any WARC version, gzipped per record or plain."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

PAGE = ("<html><head><title>{title}</title></head><body><p>"
        + "Rivers run from the mountains to the sea and carry the stones of the valley with them. " * 12
        + "</p></body></html>")


def _record(version: str, kind: str, uri: str | None, content_type: str | None, block: bytes) -> bytes:
    headers = [f"WARC/{version}", f"WARC-Type: {kind}", "WARC-Date: 2008-04-30T20:48:25Z",
               f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>"]
    headers += [f"WARC-Target-URI: {uri}"] if uri else []
    headers += [f"Content-Type: {content_type}"] if content_type else []
    headers.append(f"Content-Length: {len(block)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def _http(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "\r\n".join([f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)])
    return (head + "\r\n\r\n").encode() + body


def heritrix_records(version: str) -> tuple[list[bytes], list[str]]:
    """The records of a small old crawl, and the URLs of its HTML pages."""
    http = "application/http; msgtype=response"
    pages = {f"http://www.example.com/{name}": (PAGE.format(title=name)).encode("latin-1") for name in
             ("index", "no-content-type", "garbled-http", "no-http-headers", "latin1", "last")}
    recs = [
        _record(version, "warcinfo", None, "application/warc-fields", b"software: Heritrix/1.14.0\r\n"),
        _record(version, "response", "dns:www.example.com", "text/dns",
                b"20080430204825\nwww.example.com.\t3600\tIN\tA\t208.77.188.166\n"),
        _record(version, "response", "http://www.example.com/index", http,
                _http("200 OK", [("Content-Type", "text/html")], pages["http://www.example.com/index"])),
        _record(version, "response", "whois://whois.arin.net/208.77.188.166", "text/plain", b"NetRange: 208.77.0.0\n"),
        _record(version, "response", "ftp://ftp.example.org/pub/readme.txt", "text/plain", b"read me\n"),
        _record(version, "response", "filedesc://IAH-20080430204825-00000.arc", "text/plain", b"1 0 Archive\n"),
        _record(version, "response", "http://www.example.com/no-content-type", http,
                _http("200 OK", [], pages["http://www.example.com/no-content-type"])),
        _record(version, "response", "http://www.example.com/garbled-http", http,
                b"\x00\x01 no status line\r\n\r\n" + pages["http://www.example.com/garbled-http"]),
        _record(version, "response", "http://www.example.com/no-http-headers", None,
                pages["http://www.example.com/no-http-headers"]),
        _record(version, "request", "http://www.example.com/index", "application/http; msgtype=request",
                b"GET /index HTTP/1.0\r\n\r\n"),
        _record(version, "metadata", "http://www.example.com/index", "application/warc-fields", b"via: dns:\r\n"),
        _record(version, "response", "http://www.example.com/report.pdf", http,
                _http("200 OK", [("Content-Type", "application/pdf")], b"%PDF-1.4 ...")),
        _record(version, "response", "http://www.example.com/missing", http,
                _http("404 Not Found", [("Content-Type", "text/html")], b"<html>gone</html>")),
        _record(version, "response", "http://www.example.com/latin1", http,
                _http("200 OK", [("Content-Type", "text/html; charset=iso-8859-1")],
                      pages["http://www.example.com/latin1"])),
        _record(version, "response", "http://www.example.com/last", http,
                _http("200 OK", [("Content-Type", "text/html")], pages["http://www.example.com/last"])),
    ]
    return recs, sorted(pages)


def write_heritrix_warc(path: Path, version: str = "0.17", compress: bool = True) -> list[str]:
    """Write the old crawl to `path`; returns the URLs of its HTML pages."""
    records, pages = heritrix_records(version)
    path.write_bytes(b"".join(gzip.compress(r) if compress else r for r in records))
    return pages
