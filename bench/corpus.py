"""Build a benchmark WARC corpus from real pages: ../shared/data when present, else tests/data.

Pages are the 181 real article pages of the scrapinghub extraction benchmark plus the HTML
responses of the shared crawl samples (295 pages, 293 distinct bodies, 37 MB of HTML with
../shared/data present; about 50 pages from tests/data without it), written as gzip-per-record
WARC response records. There are no more real pages than that: a larger corpus cycles through
them again, each copy under a new URL (`?copy=<i>`) and record id, so 20,000 records hold each
page about 68 times. Record i takes page i mod pages and goes to file i mod files (so a file
count that divides 295, such as 5 or 59, gives each file a fixed subset of the pages).

The copies are byte-identical pages. That barely changes curate's cost per document (no dedup
runs in it), with one caveat: trafilatura's `deduplicate=True` (FineWeb's, datatrove's and
corpusmill's setting) keeps a per-process LRU cache of 4,096 text segments and drops a segment
seen more than twice, so the 4th back-to-back extraction of one page returns less text or none.
Copies here come a whole cycle of pages apart; measured, four cycles of the 295 pages through
one process extracted exactly the same text every time: the cache has forgotten a page before
its next copy arrives.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "web"


def real_pages() -> tuple[list[tuple[str, bytes]], str]:
    """(url, html bytes) of every real page available, and a line saying where they came from."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    pages: list[tuple[str, bytes]] = []
    if SHARED.is_dir():
        for path in sorted((SHARED / "html_extraction_benchmark" / "html").glob("*.html.gz")):
            pages.append((f"https://article.example/{path.name[:16]}", gzip.decompress(path.read_bytes())))
        warcs, where = sorted((SHARED / "warc").glob("*.warc.gz")), f"{SHARED} (shared data)"
    else:
        warcs = sorted((ROOT / "tests" / "data" / "web").glob("*.warc.gz"))
        where = "tests/data/web only: ../shared/data is not here, so the corpus is small and less varied"
    for warc in warcs:
        with open(warc, "rb") as stream:
            for rec in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
                if (rec.http_content_type or "").lower() == "text/html" and rec.http_headers.status_code == 200:
                    url = (rec.headers.get("WARC-Target-URI") or "").strip("<>")
                    pages.append((url, rec.reader.read()))
    return pages, where


def write_corpus(folder: Path, n_docs: int, n_files: int) -> str:
    """Write `n_docs` response records over `n_files` WARC files; returns where the pages came from."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages, where = real_pages()
    folder.mkdir(parents=True, exist_ok=True)
    outs = [open(folder / f"bench-{i:03d}.warc.gz", "wb") for i in range(n_files)]
    writers = [WARCWriter(out, gzip=True) for out in outs]
    for i in range(n_docs):
        url, html = pages[i % len(pages)]
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        # Common Crawl marks the sniffed payload type; datatrove's WarcReader drops records whose
        # type it has to sniff itself and gets wrong, which would make it process fewer pages.
        warc_headers = {"WARC-Identified-Payload-Type": "text/html"}
        record = writers[i % n_files].create_warc_record(f"{url}?copy={i}", "response", payload=io.BytesIO(html),
                                                         http_headers=headers, warc_headers_dict=warc_headers)
        writers[i % n_files].write_record(record)
    for out in outs:
        out.close()
    distinct = len({hashlib.sha1(html).digest() for _, html in pages})
    fewest, most = n_docs // len(pages), -(-n_docs // len(pages))
    reuse = (f"{min(n_docs, len(pages))} used, none repeated" if most <= 1 else
             f"each used {fewest} times" if fewest == most else f"each used {fewest} or {most} times")
    return f"{len(pages)} real pages ({distinct} distinct bodies; {reuse}) from {where}"


if __name__ == "__main__":
    print(write_corpus(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
