"""What one document costs in each step of curate, in µs, on one core (single process, no Beam runner).

Real pages from ../shared/data/web (bench/corpus.py; tests/data/web when ../shared is absent, then said
so), written to one WARC file and read back with curate's reader, extracted in-process with both
extractors, identified with fastText; the text rules run in curate's order on the documents the default
language filter keeps, each document tokenised afresh as in a pipeline (the first rule that needs words
pays for them; FineWeb sees the text C4 rewrote). The last rows run langid + language_v1 + the four
rules + PII through the filter DoFn (`_ApplyFilterFn.process`, called directly) on every document.
Each figure is the median over --rounds of the mean per document, in CPU time of this thread
(time.thread_time_ns), so that other work on a shared machine does not count.

    .venv/bin/python bench/per_doc_costs.py [--pages 295] [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import real_pages, write_corpus  # noqa: E402

C4_BENCH = {"filter_no_terminal_punct": False}  # as bench/curate.py configures it


def _clear_caches() -> None:
    """Forget every cached tokenisation, whichever version of core/text_units.py is imported."""
    from corpusmill.core import text_units

    clear = getattr(text_units, "clear_cache", None) or text_units.words.cache_clear
    clear()


def _mean_us(fn: Callable, items: list, rounds: int, fresh: bool = False) -> float:
    """Median over rounds of the mean µs per item of fn(item); with `fresh`, caches are cleared before each."""
    means = []
    for _ in range(rounds):
        total = 0
        for item in items:
            if fresh:
                _clear_caches()
            started = time.thread_time_ns()
            fn(item)
            total += time.thread_time_ns() - started
        means.append(total / 1000 / max(len(items), 1))
    return statistics.median(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=0, help="real pages to use (0: all)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import corpusmill
    from corpusmill.core import text_units
    from corpusmill.core.extraction import HtmlExtractor
    from corpusmill.core.language_id import LanguageIdentifier
    from corpusmill.filters.base import make_filter
    from corpusmill.filters.language import LanguageFilter
    from corpusmill.filters.pii import PiiRedaction
    from corpusmill.pipelines.io.warc import read_warc
    from corpusmill.pipelines.transforms.filter import _ApplyFilterFn
    from corpusmill.schemas.config import ExtractConfig, LangIdConfig, PiiConfig
    from corpusmill.schemas.records import Document

    pages, where = real_pages()
    n_pages = args.pages or len(pages)
    print(f"corpusmill: {list(corpusmill.__path__)[0]}; {n_pages} pages of {len(pages)} real pages from {where}")
    rows: list[tuple[str, int, float]] = []

    with tempfile.TemporaryDirectory(prefix="per-doc-") as tmp:
        write_corpus(Path(tmp), n_pages, 1)
        warc = str(next(Path(tmp).glob("*.warc.gz")))

        def read_all(_: object) -> list:
            return [e.record for e in read_warc(warc, lambda: open(warc, "rb"), "bench", "warc", True) if e.record]

        records = read_all(None)
        rows.append(("read (WARC record to RawRecord)", len(records),
                     _mean_us(read_all, [None], args.rounds) / max(len(records), 1)))

    texts: dict[str, list[Document]] = {}
    for extractor in ("trafilatura", "resiliparse"):
        extract = HtmlExtractor(ExtractConfig(extractor=extractor, timeout_s=0))
        extract.setup()
        rows.append((f"extraction direct ({extractor})", len(records),
                     _mean_us(lambda r, ex=extract: ex(r.html or b"", r.http_charset), records, args.rounds)))
        texts[extractor] = [Document(id=r.id, text=t, source="bench", input_file="-", url=r.url)
                            for r in records if (t := extract(r.html or b"", r.http_charset).text)]
    docs = texts["trafilatura"]  # curate's default extractor

    lid = LanguageIdentifier()
    lid.setup()
    rows.append(("language ID (LanguageIdentifier.identify)", len(docs),
                 _mean_us(lambda d: lid.identify(d.text), docs, args.rounds)))
    identified = [dataclasses.replace(d, lang=lab, lang_score=s) for d in docs for lab, s in [lid.identify(d.text)]]
    language = LanguageFilter(LangIdConfig())
    english = [d for d in identified if language(d).keep]

    rows.append(("words() (text_units, cold)", len(english),
                 _mean_us(lambda d: text_units.words(d.text, d.lang), english, args.rounds, fresh=True)))
    rules = [make_filter("gopher_repetition_v1"), make_filter("gopher_quality_v1"),
             make_filter("c4_quality_v1", C4_BENCH), make_filter("fineweb_quality_v1"), PiiRedaction(PiiConfig())]
    totals = [0.0] * len(rules)
    per_round: list[list[float]] = [[] for _ in rules]
    for _ in range(args.rounds):
        totals = [0.0] * len(rules)
        for d in english:
            _clear_caches()
            current = d
            for k, rule in enumerate(rules):
                started = time.thread_time_ns()
                verdict = rule(current)
                totals[k] += time.thread_time_ns() - started
                if verdict.text is not None:  # C4 rewrites what FineWeb and PII see, as in curate
                    current = dataclasses.replace(current, text=verdict.text)
        for k in range(len(rules)):
            per_round[k].append(totals[k] / 1000 / max(len(english), 1))
    for rule, means in zip(rules, per_round, strict=True):
        rows.append((f"{rule.name} (curate order, all run)", len(english), statistics.median(means)))

    fns = [_ApplyFilterFn(f, "curate") for f in (language, *rules)]
    for fn in fns:
        fn.setup()

    def through_dofns(doc: Document) -> None:
        lang, score = lid.identify(doc.text)
        current = [dataclasses.replace(doc, lang=lang, lang_score=score)]
        for fn in fns:
            current = [out for item in current for out in fn.process(item) if isinstance(out, Document)]

    rows.append(("langid + language_v1 + 4 rules + PII, filter DoFn", len(docs),
                 _mean_us(through_dofns, docs, args.rounds, fresh=True)))

    print(f"{'step':<52}{'docs':>6}{'µs/doc':>10}")
    for name, n, us in rows:
        print(f"{name:<52}{n:>6}{us:>10.0f}")


if __name__ == "__main__":
    main()
