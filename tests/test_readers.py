"""Readers on real WARC/WET/JSONL samples and on every kind of malformed input."""

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpusmill.pipelines.io.readers import detect_format, read_records
from corpusmill.schemas.config import InputConfig
from tests.old_warc import heritrix_records, write_heritrix_warc


def events(path, fmt=None, fields=None):
    fmt = fmt or detect_format(str(path))
    return list(read_records(str(path), fmt, lambda: open(path, "rb"), "test", fields or InputConfig()))


def summary(evs):
    c = Counter()
    for e in evs:
        if e.record:
            c["record"] += 1
        elif e.skipped_kind:
            c[f"skip.{e.skipped_kind}"] += 1
        elif e.removal:
            c[f"removed.{e.removal.reason}"] += 1
        else:
            c["error"] += 1
    return dict(c)


def test_common_crawl_warc(data_dir):
    evs = events(data_dir / "web/cc-main-2020-34_sample_resiliparse.warc.gz")
    assert summary(evs) == {"record": 16, "skip.warcinfo": 1, "skip.request": 17, "skip.metadata": 16}
    rec = evs[[e.record is not None for e in evs].index(True)].record
    assert rec.url.startswith("http") and rec.html.lstrip().startswith(b"<") and rec.crawl_date
    assert len({e.record.id for e in evs if e.record}) == 16


def test_wet_conversion_records(data_dir):
    evs = events(data_dir / "web/cc-main-2024-22_whirlwind.warc.wet.gz")
    assert summary(evs) == {"record": 1, "skip.warcinfo": 1}
    assert "Escopete" in evs[1].record.text


def test_wget_urls_lose_angle_brackets(data_dir):
    evs = events(data_dir / "web/dolma_wget_sample-0000.warc.gz")
    urls = [e.record.url for e in evs if e.record]
    assert urls and all(u.startswith("http") and not u.endswith(">") for u in urls)


@pytest.mark.parametrize("name,expected", [
    ("warcio_example.warc.gz", {"record": 1, "skip.warcinfo": 2, "skip.request": 2, "skip.revisit": 1}),
    ("warcio_example-iana.org-chunked.warc", {"record": 1, "skip.warcinfo": 1, "skip.request": 1}),
    ("warcio_example-bad-non-chunked.warc.gz", {"record": 1, "skip.warcinfo": 2, "skip.request": 2,
                                                "skip.revisit": 1}),
    # a truncated response, then damage, then a request record that starts cleanly and is read again
    ("warcio_example-trunc.warc", {"error": 2, "skip.warcinfo": 2, "skip.request": 1}),
    ("warcio_example-wrong-chunks.warc.gz", {"error": 1, "skip.request": 1}),
    ("resiliparse_clipped_truncated.warc.gz", {"error": 1}),
    ("resiliparse_warcfile.warc.lz4", {"record": 16, "skip.warcinfo": 1, "skip.request": 17, "skip.metadata": 16}),
    ("warcio_example.arc.gz", {"record": 1, "skip.warcinfo": 1}),
    ("aut_example_docs.warc.gz", {"removed.non_html_payload": 9, "skip.warcinfo": 3, "skip.request": 9}),
])
def test_edge_case_warcs(data_dir, name, expected):
    evs = events(data_dir / "bad" / name)
    assert summary(evs) == expected
    for e in evs:
        if e.error:
            assert e.error.input_file.endswith(name) and e.error.message and e.error.error_class


def test_digest_check_can_be_switched_off(data_dir):
    path = data_dir / "bad/warcio_example-wrong-chunks.warc.gz"
    evs = list(read_records(str(path), "warc", lambda: open(path, "rb"), "t", InputConfig(), verify_digests=False))
    assert summary(evs) == {"record": 1, "skip.request": 1}


def test_chunked_payload_is_dechunked(data_dir):
    evs = events(data_dir / "bad/warcio_example-iana.org-chunked.warc")
    html = next(e.record.html for e in evs if e.record)
    assert html.lstrip().lower().startswith(b"<!doctype html>")


def test_empty_file(tmp_path):
    for name in ("empty.warc.gz", "empty.jsonl"):
        (tmp_path / name).write_bytes(b"")
        assert events(tmp_path / name) == []


def test_jsonl_keeps_own_ids_and_reports_bad_lines(tmp_path):
    lines = [json.dumps({"id": "a1", "text": "hello", "url": "http://a"}), "{not json", json.dumps([1, 2]),
             json.dumps({"id": "a2"}), json.dumps({"text": "no id here"})]
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n"))
    evs = events(path)
    records = [e.record for e in evs if e.record]
    assert [r.id for r in records][0] == "a1" and records[0].url == "http://a"
    assert len(records[1].id) == 32  # no id field: a stable hash of file and offset
    errors = [e.error.message for e in evs if e.error]
    assert len(errors) == 4
    assert any("invalid JSON" in m for m in errors)
    assert any("expected a JSON object, got list" in m for m in errors)
    assert any("field 'text' must be a string, is missing" in m for m in errors)


def test_jsonl_field_mapping(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"doc_id": 7, "content": "x"}) + "\n")
    evs = events(path, fields=InputConfig(id_field="doc_id", text_field="content"))
    assert evs[0].record.id == "7" and evs[0].record.text == "x"


def test_parquet_rows_and_corrupt_file(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["one", None]}), path)
    assert summary(events(path)) == {"record": 1, "error": 1}
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    evs = events(bad)
    assert summary(evs) == {"error": 1}


def test_format_detection():
    assert detect_format("a/b.warc.wet.gz") == "wet"
    assert detect_format("CC-MAIN-x.warc.gz") == "warc"
    assert detect_format("x.arc.gz") == "warc"
    assert detect_format("x.jsonl.zst") == "jsonl"
    assert detect_format("x.txt") is None


@pytest.mark.parametrize("version", ["0.17", "0.18", "1.0", "1.1"])
@pytest.mark.parametrize("compress", [True, False])
def test_old_crawls_lose_no_page(tmp_path, version, compress):
    """dns:, whois:, ftp: and filedesc: responses, garbled or missing HTTP headers, no Content-Type:
    each odd record is removed with a reason, and every HTML page of the file is read."""
    path = tmp_path / ("crawl.warc.gz" if compress else "crawl.warc")
    pages = write_heritrix_warc(path, version, compress)
    evs = events(path)
    assert sorted(e.record.url for e in evs if e.record) == pages
    removed = sorted((e.removal.reason, e.removal.detail) for e in evs if e.removal)
    assert removed == [("http_status_not_ok", "404"), ("non_html_payload", "application/pdf"),
                       ("non_http_response", "dns:"), ("non_http_response", "filedesc:"),
                       ("non_http_response", "ftp:"), ("non_http_response", "whois:")]
    assert not [e for e in evs if e.error]
    assert summary(evs)["skip.request"] == 1 and summary(evs)["skip.metadata"] == 1


def test_a_corrupt_gzip_member_costs_only_its_stretch(tmp_path):
    path = tmp_path / "damaged.warc.gz"
    records, pages = heritrix_records("1.0")
    members = [gzip.compress(r) for r in records]
    damaged = 2  # the first HTML page's member: its deflate data overwritten
    members[damaged] = members[damaged][:20] + b"\xff" * (len(members[damaged]) - 28) + members[damaged][-8:]
    path.write_bytes(b"".join(members))
    evs = events(path)
    read = sorted(e.record.url for e in evs if e.record)
    assert read == [p for p in pages if not p.endswith("/index")]  # every page but the damaged one
    errors = [e.error for e in evs if e.error]
    assert len(errors) == 1 and "unreadable WARC data" in errors[0].message
    assert errors[0].input_offset <= sum(map(len, members[:damaged]))


def _ranged(path, range_bytes):
    from corpusmill.pipelines.io.readers import byte_ranges

    fmt = detect_format(str(path))
    return [e for r in byte_ranges(str(path), fmt, path.stat().st_size, range_bytes)
            for e in read_records(str(path), fmt, lambda: open(path, "rb"), "test", InputConfig(), byte_range=r)]


def _identity(e):
    if e.record:
        return "record", e.record.id, e.record.input_offset
    if e.removal:
        return "removed", e.removal.id, e.removal.reason
    if e.error:
        return "error", e.error.input_offset, e.error.error_class
    return "skipped", e.skipped_kind


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=100, max_value=120_000),
       st.sampled_from(["web/dolma_wget_sample-0000.warc.gz", "web/cc-main-2024-22_whirlwind.warc.wet.gz",
                        "bad/resiliparse_clipped_truncated.warc.gz", "bad/warcio_example-wrong-chunks.warc.gz",
                        "damaged", "one gzip stream"]))
def test_byte_ranges_read_every_record_once(tmp_path_factory, range_bytes, name):
    """Whatever the range size, the ranges of a file give the events of reading it whole: none lost, none twice
    (a file that is one gzip stream is read whole by its first range; a broken stretch is reported where its
    range ends, so the order may differ)."""
    data = Path(__file__).parent / "data"
    if name == "damaged":
        members = [gzip.compress(r) for r in heritrix_records("1.0")[0]]
        members[2] = members[2][:20] + b"\xff" * (len(members[2]) - 28) + members[2][-8:]
        path = tmp_path_factory.mktemp("r") / "damaged.warc.gz"
        path.write_bytes(b"".join(members))
    elif name == "one gzip stream":
        path = tmp_path_factory.mktemp("r") / "single.warc.gz"
        path.write_bytes(gzip.compress(gzip.decompress((data / "web/dolma_wget_sample-0001.warc.gz").read_bytes())))
    else:
        path = data / name
    whole = sorted((_identity(e) for e in events(path)), key=str)
    assert sorted((_identity(e) for e in _ranged(path, range_bytes)), key=str) == whole
    assert whole
