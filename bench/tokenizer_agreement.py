"""How closely corpusmill's regex word splitter follows datatrove's spaCy tokenizer, and what it saves.

On every real page of the benchmark corpus (extracted with resiliparse, English by lid.176)
it compares word counts and the keep/drop decisions of the Gopher, C4 and FineWeb rules
under both tokenizers, and times both.

    .venv/bin/python bench/tokenizer_agreement.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import real_pages  # noqa: E402


def main() -> None:
    from datatrove.utils.text import split_into_words

    from corpusmill.core import text_units
    from corpusmill.core.extraction import HtmlExtractor
    from corpusmill.core.language_id import LanguageIdentifier
    from corpusmill.filters.base import make_filter
    from corpusmill.schemas.config import ExtractConfig
    from corpusmill.schemas.records import Document

    pages, where = real_pages()
    extractor = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0))
    lid = LanguageIdentifier()
    texts = []
    for _, html in pages:
        text = extractor(html, None).text
        if text and lid.identify(text)[0] == "en":
            texts.append(text)
    print(f"{len(texts)} English pages from {len(pages)} real pages ({where})")

    started = time.perf_counter()
    spacy_counts = [len(split_into_words(t, "eng_Latn")) for t in texts]
    spacy_s = time.perf_counter() - started
    started = time.perf_counter()
    regex_counts = [len(text_units.words(t, "en")) for t in texts]
    regex_s = time.perf_counter() - started
    diffs = sorted(abs(a - b) / max(a, 1) for a, b in zip(spacy_counts, regex_counts, strict=True))
    print(f"word counts: median relative difference {diffs[len(diffs) // 2]:.4f}, "
          f"95th percentile {diffs[int(len(diffs) * 0.95)]:.4f}, max {diffs[-1]:.4f}")
    print(f"time: spaCy {spacy_s:.2f} s, regex {regex_s:.2f} s ({spacy_s / regex_s:.1f}x)")

    names = [("gopher_repetition_v1", {}), ("gopher_quality_v1", {}), ("c4_quality_v1", {}),
             ("fineweb_quality_v1", {})]
    for name, params in names:
        f = make_filter(name, params)
        regex_verdicts = [f(Document(id="x", text=t, source="b", input_file="b", lang="en")).keep for t in texts]
        text_units.words.cache_clear()
        original = text_units.segmenter_for
        text_units.segmenter_for = lambda lang, text=None: "eng_Latn"  # route English through datatrove's spaCy
        try:
            spacy_verdicts = [f(Document(id="x", text=t, source="b", input_file="b", lang="en")).keep
                              for t in texts]
        finally:
            text_units.segmenter_for = original
            text_units.words.cache_clear()
        same = sum(a == b for a, b in zip(regex_verdicts, spacy_verdicts, strict=True))
        print(f"{name:<22} same decision on {same}/{len(texts)} pages")


if __name__ == "__main__":
    main()
