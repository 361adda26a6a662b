"""HTML extraction: both extractors, charset handling, binary and oversized payloads, the time limit."""

import time

import pytest

from filters import extract
from filters.extract import HtmlExtractor, decode_html

PAGE = ("<html><head><title>t</title></head><body><nav>Home | About</nav><article>"
        + "".join(f"<p>Paragraph {i} tells a long and quiet story about the harbour town and its people, "
                  f"who fish, trade and talk about the weather every single day.</p>" for i in range(8))
        + "</article><footer>Copyright</footer></body></html>")


@pytest.mark.parametrize("name", ["trafilatura", "resiliparse"])
def test_extracts_main_text(name):
    ex = HtmlExtractor(name, timeout_s=0)
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
    ex = HtmlExtractor("resiliparse", timeout_s=0)
    assert ex(broken, "utf-8").text


def test_binary_and_oversized_payloads_are_removed_with_reasons():
    ex = HtmlExtractor("resiliparse", timeout_s=0, max_html_bytes=1000)
    assert ex(b"%PDF-1.4\x00\x01\x02binary", None).reason == "binary_payload"
    assert ex(b"<p>" + b"x" * 2000 + b"</p>", None).reason == "html_too_large"
    assert ex(b"<html><body></body></html>", None).reason == "no_text_extracted"


def _slow(html: str) -> str:
    time.sleep(30)
    return html


def test_time_limit_kills_slow_extraction(monkeypatch):
    monkeypatch.setitem(extract._EXTRACTORS, "resiliparse", _slow)
    ex = HtmlExtractor("resiliparse", timeout_s=0.5)
    from datatrove.pipeline.extractors.base import ExtractorSandbox

    ex._sandbox = ExtractorSandbox(timeout=0.5)
    started = time.monotonic()
    result = ex(PAGE.encode(), "utf-8")
    assert result.reason == "extraction_timeout"
    assert time.monotonic() - started < 10
    ex.close()


def test_unknown_extractor():
    with pytest.raises(ValueError, match="unknown extractor 'soup'; known: resiliparse, trafilatura"):
        HtmlExtractor("soup")
