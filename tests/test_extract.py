"""HTML extraction: both extractors, charset handling, binary and oversized payloads, the time limit."""

import os
import time

import pytest

from corpusmill.core.extraction import HtmlExtractor, decode_html
from corpusmill.core.helper_process import HelperCallFailed, HelperCrashed, TimeLimitedCall
from corpusmill.schemas.config import ExtractConfig

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


def test_extractor_maps_timeouts_to_a_removal_reason(monkeypatch):
    ex = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=1))
    ex._helper = TimeLimitedCall(_slow, timeout_s=1)
    try:
        assert ex(b"<p>sleep</p>", "utf-8").reason == "extraction_timeout"
    finally:
        ex.close()


def test_unknown_extractor():
    with pytest.raises(ValueError, match="'trafilatura' or 'resiliparse'"):
        HtmlExtractor(ExtractConfig(extractor="soup"))
