"""HTML bytes to main text: charset decoding, a payload sanity check, then trafilatura or resiliparse.

trafilatura is FineWeb's choice (best main-content quality); resiliparse is about 10x
faster. Extraction of one page can take arbitrarily long on pathological HTML, so it
runs in a helper process killed after `timeout_s` (core/helper_process.py) unless
`timeout_s` is 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from corpusmill.core.helper_process import HelperCrashed, TimeLimitedCall
from corpusmill.schemas.config import ExtractConfig

# Sniffed bytes when looking for NULs: binary formats (PDF, zip-based office files, images)
# show NUL bytes within the first few KB, while text HTML never legitimately contains them.
BINARY_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Extraction:
    """The extracted text, or why there is none."""

    text: str | None
    reason: str | None = None
    html_bytes: int = 0


def decode_html(payload: bytes, declared_charset: str | None) -> str:
    """Decode an HTML payload: the HTTP charset when it is valid, else resiliparse's detection."""
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    encoding = declared_charset or detect_encoding(payload[:65536])
    return bytes_to_str(payload, encoding)


def looks_binary(payload: bytes) -> bool:
    """True when the payload holds NUL bytes early on: a binary file served as text/html."""
    return b"\x00" in payload[:BINARY_SNIFF_BYTES]


def _trafilatura(html: str) -> str:
    from trafilatura import extract

    # Same options as datatrove's Trafilatura step (FineWeb).
    return extract(html, favor_precision=True, include_comments=False, deduplicate=True) or ""


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True, preserve_formatting=True, alt_texts=False)


_EXTRACTORS = {"trafilatura": _trafilatura, "resiliparse": _resiliparse}


class HtmlExtractor:
    """Extract main text from HTML payloads with a per-document time limit; call `close()` when done."""

    def __init__(self, config: ExtractConfig | None = None):
        config = config or ExtractConfig()
        self.extractor = config.extractor
        self.timeout_s = config.timeout_s
        self.max_html_bytes = config.max_html_bytes
        self._helper = None

    def __getstate__(self) -> dict:
        # The helper holds a process and pipes: never pickle it; each worker makes its own.
        state = dict(self.__dict__)
        state["_helper"] = None
        return state

    def setup(self) -> None:
        # trafilatura logs an ERROR for every page without a usable tree: the outcome is already
        # recorded per document in removed/.
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        if self.timeout_s > 0:
            if self._helper is None:
                self._helper = TimeLimitedCall(_EXTRACTORS[self.extractor], self.timeout_s)
        else:
            _EXTRACTORS[self.extractor]("<html><body><p>warm up</p></body></html>")

    def close(self) -> None:
        if self._helper is not None:
            self._helper.close()
            self._helper = None

    def __call__(self, payload: bytes, charset: str | None) -> Extraction:
        size = len(payload)
        if size > self.max_html_bytes:
            return Extraction(None, "html_too_large", size)
        if looks_binary(payload):
            return Extraction(None, "binary_payload", size)
        html = decode_html(payload, charset)
        fn = _EXTRACTORS[self.extractor]
        if self._helper is None:
            text = fn(html)
        else:
            try:
                text = self._helper.call(html)
            except TimeoutError:
                return Extraction(None, "extraction_timeout", size)
            except HelperCrashed:
                # killed for memory or crashed in native code; the next call starts a new helper
                return Extraction(None, "extractor_crashed", size)
        text = text.strip()
        if not text:
            return Extraction(None, "no_text_extracted", size)
        return Extraction(text, None, size)
