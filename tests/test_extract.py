"""HTML extraction: both extractors, charset handling, binary and oversized payloads, the time limit."""

import multiprocessing.context
import os
import pickle
import time

import pytest

from corpusmill.core.extraction import HtmlExtractor, decode_html
from corpusmill.core.helper_process import HelperCallFailed, HelperCrashed, TimeLimitedBytesCall, TimeLimitedCall
from corpusmill.pipelines.io.warc import read_warc
from corpusmill.schemas.config import ExtractConfig
from corpusmill.schemas.records import Document, ErrorRecord, RawRecord

PAGE = ("<html><head><title>t</title></head><body><nav>Home | About</nav><article>"
        + "".join(f"<p>Paragraph {i} tells a long and quiet story about the harbour town and its people, "
                  f"who fish, trade and talk about the weather every single day.</p>" for i in range(8))
        + "</article><footer>Copyright</footer></body></html>")


@pytest.mark.parametrize("name", ["trafilatura", "resiliparse"])
def test_extracts_main_text(name):
    ex = HtmlExtractor(ExtractConfig(extractor=name, timeout_s=0))
    ex.setup()
    result = ex(PAGE.encode(), "utf-8")
    assert result.reason is None
    assert "harbour town" in result.text
    assert "Paragraph 7" in result.text


def test_charset_from_header_and_detection():
    latin = "<html><body><p>Café crème à la française</p></body></html>".encode("latin-1")
    assert "Café crème" in decode_html(latin, "iso-8859-1")
    assert "Café crème" in decode_html(latin, None)


def test_invalid_utf8_does_not_raise():
    broken = PAGE.encode() + b"\xff\xfe\xc3\x28 trailing"
    ex = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0))
    assert ex(broken, "utf-8").text


def test_binary_and_oversized_payloads_are_removed_with_reasons():
    ex = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0, max_html_bytes=1000))
    assert ex(b"%PDF-1.4\x00\x01\x02binary", None).reason == "binary_payload"
    assert ex(b"<p>" + b"x" * 2000 + b"</p>", None).reason == "html_too_large"
    assert ex(b"<html><body></body></html>", None).reason == "no_text_extracted"


def _slow(html: str) -> str:
    if "sleep" in html:
        time.sleep(60)
    return html


def _crash(html: str) -> str:
    if "crash" in html:
        os._exit(3)
    return html


def _raise(html: str) -> str:
    if "raise" in html:
        raise ValueError("bad tree")
    return html


def test_time_limit_kills_slow_calls_and_recovers():
    call = TimeLimitedCall(_slow, timeout_s=1)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            call.call("sleep")
        assert time.monotonic() - started < 20
        assert call.call("fine") == "fine"  # a fresh helper takes the next call
    finally:
        call.close()


def test_helper_crash_and_errors_are_reported():
    crash = TimeLimitedCall(_crash, timeout_s=10)
    failing = TimeLimitedCall(_raise, timeout_s=10)
    try:
        with pytest.raises(HelperCrashed):
            crash.call("crash")
        assert crash.call("ok") == "ok"
        with pytest.raises(HelperCallFailed, match="ValueError: bad tree"):
            failing.call("raise")
    finally:
        crash.close()
        failing.close()


def _slow_page(payload: bytes, charset: str | None) -> bytes:
    if b"sleep" in payload:
        time.sleep(60)
    return payload


def _crashing_page(payload: bytes, charset: str | None) -> bytes:
    if b"crash" in payload:
        os._exit(3)
    if b"raise" in payload:
        raise ValueError("bad tree")
    return payload


def test_extractor_maps_timeouts_and_crashes_to_removal_reasons():
    ex = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=1))
    ex._helper = TimeLimitedBytesCall(_slow_page, timeout_s=1)
    try:
        assert ex(b"<p>sleep</p>", "utf-8").reason == "extraction_timeout"
        assert ex(b"<p>fine</p>", "utf-8").text == "<p>fine</p>"
        # in a batch, only the stuck page is lost
        results = ex.extract_many([(b"<p>one</p>", None), (b"<p>sleep</p>", None), (b"<p>three</p>", None)])
        assert [r.text or r.reason for r in results] == ["<p>one</p>", "extraction_timeout", "<p>three</p>"]
        ex._helper.close()
        ex._helper = TimeLimitedBytesCall(_crashing_page, timeout_s=10)
        results = ex.extract_many([(b"<p>one</p>", None), (b"<p>crash</p>", None), (b"<p>raise</p>", None),
                                   (b"%PDF\x00", None), (b"<p>five</p>", None)])
        assert [r.text or r.reason for r in results[:2]] == ["<p>one</p>", "extractor_crashed"]
        assert isinstance(results[2], HelperCallFailed) and "ValueError: bad tree" in str(results[2])
        assert results[3].reason == "binary_payload" and results[4].text == "<p>five</p>"
        with pytest.raises(HelperCallFailed, match="bad tree"):
            ex(b"<p>raise</p>", None)
    finally:
        ex.close()


def _sample_pages(data_dir) -> list[tuple[bytes, str | None]]:
    pages = []
    for path in sorted((data_dir / "web").glob("*.warc.gz")):
        for event in read_warc(str(path), lambda p=path: open(p, "rb"), "web", "warc", False):
            if event.record is not None and event.record.html is not None:
                pages.append((event.record.html, event.record.http_charset))
    return pages


@pytest.mark.parametrize("name", ["resiliparse", "trafilatura"])
def test_helper_and_in_process_give_the_same_results(data_dir, name):
    pages = _sample_pages(data_dir)
    assert len(pages) > 40
    if name == "trafilatura":
        pages = pages[:15]  # ten times slower
    # prefixes cut through multi-byte characters; no charset sends the page through detection
    inputs = [(html[:cut], cs) for html, charset in pages for cut in (len(html), len(html) // 3)
              for cs in (charset, None)]
    in_process = HtmlExtractor(ExtractConfig(extractor=name, timeout_s=0))
    helper = HtmlExtractor(ExtractConfig(extractor=name, timeout_s=30))
    try:
        assert [helper(*i) for i in inputs] == [in_process(*i) for i in inputs]
    finally:
        helper.close()


def test_extractor_pickles_without_its_helper():
    ex = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=30))
    try:
        assert "harbour town" in ex(PAGE.encode(), "utf-8").text
        copy = pickle.loads(pickle.dumps(ex))
        assert copy._helper is None
        assert "harbour town" in copy(PAGE.encode(), "utf-8").text
        copy.close()
    finally:
        ex.close()


def _failing_first_start(monkeypatch) -> list[int]:
    """Make the next spawn fail as when the worker is out of processes or file descriptors."""
    starts = []
    real_start = multiprocessing.context.SpawnProcess.start

    def start(self):
        starts.append(1)
        if len(starts) == 1:
            raise OSError(11, "Resource temporarily unavailable")
        return real_start(self)

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start)
    return starts


def test_a_helper_that_cannot_start_is_an_error_for_one_record_only(monkeypatch):
    from corpusmill.pipelines.transforms.text import _ExtractTextFn

    starts = _failing_first_start(monkeypatch)
    fn = _ExtractTextFn(HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=30)))
    fn.setup()
    try:
        fn.start_bundle()
        out = [o for i in range(3) for o in fn.process(
            RawRecord(f"r{i}", "t", "f", i, html=PAGE.encode(), http_charset="utf-8"), i, "window")]
        out += list(fn.finish_bundle())
    finally:
        fn.teardown()
    error, *docs = out
    assert error.tag == "errors" and isinstance(error.value.value, ErrorRecord)
    assert error.value.value.error_class == "HelperStartFailed" and error.value.value.record_id == "r0"
    assert "Resource temporarily unavailable" in error.value.value.message
    # the next records start a helper and go through, each with its own timestamp and window
    assert [(d.value.id, d.timestamp, d.windows) for d in docs] == [("r1", 1, ("window",)), ("r2", 2, ("window",))]
    assert all(isinstance(d.value, Document) and "harbour town" in d.value.text for d in docs)
    assert len(starts) == 2


def test_extract_text_with_the_helper_in_a_pipeline(data_dir):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from corpusmill.pipelines.transforms.text import ExtractText

    pages = _sample_pages(data_dir)[:40]  # more than a batch
    records = [RawRecord(f"p{i}", "t", "f", i, html=html, http_charset=cs) for i, (html, cs) in enumerate(pages)]
    records += [RawRecord("t", "t", "f", 100, text="already text"),
                RawRecord("e", "t", "f", 101, html=b"<html><body></body></html>")]
    expected = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0))
    kept = [(r.id, expected(r.html, r.http_charset).text) for r in records[:-2]]
    assert all(text for _, text in kept)
    with_helper = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=30))
    with TestPipeline() as p:
        out = p | beam.Create(records) | ExtractText(with_helper)
        assert_that(out.docs | "Texts" >> beam.Map(lambda d: (d.id, d.text)),
                    equal_to([*kept, ("t", "already text")]), label="docs")
        assert_that(out.removed | "Reasons" >> beam.Map(lambda r: (r.id, r.reason)),
                    equal_to([("e", "no_text_extracted")]), label="removed")
