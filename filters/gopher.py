"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", App. A, Table A1).

Thresholds are the paper's and match datatrove's GopherQualityFilter /
GopherRepetitionFilter; the duplicate-counting helpers are datatrove's own. Unlike
datatrove, every measured ratio is returned as a score so thresholds can be re-tuned
from the removed ledger without recomputing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import PUNCTUATION_SET

from corpusmill.core import text_units
from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.records import Document

_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")
_LINE_SPLIT = re.compile("\n+")


@register("gopher_quality_v1")
@dataclass(frozen=True, kw_only=True)
class GopherQuality:
    """Word count, mean word length, symbol ratios, bullet/ellipsis lines, alphabetic words, stop words."""

    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3
    max_avg_word_length: float = 10
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    stop_words: tuple[str, ...] = tuple(STOP_WORDS)

    def score_names(self) -> tuple[str, ...]:
        return tuple(f"gopher.{name}" for name in (
            "word_count", "avg_word_length", "hash_ratio", "ellipsis_ratio", "bullet_lines_ratio",
            "ellipsis_lines_ratio", "alpha_words_ratio", "stop_words"))

    def __call__(self, doc: Document) -> Verdict:
        text = doc.text
        # Each distinct word is looked at once and weighted by its count: the same integer sums as a
        # pass over every word, so the same ratios.
        distinct, _, counts = text_units.units(text, doc.lang).vocabulary
        n_words = max(int(counts.sum()), 1)
        real = ~np.fromiter(map(PUNCTUATION_SET.issuperset, distinct), dtype=bool, count=len(distinct))
        alpha = np.fromiter((any(map(str.isalpha, w)) for w in distinct), dtype=bool, count=len(distinct))
        lengths = np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))
        n_real = int(counts[real].sum())
        avg_len = int((counts * lengths)[real].sum()) / n_real if n_real else 0.0
        lines = text.splitlines() or [""]
        s = {
            "gopher.word_count": float(n_real),
            "gopher.avg_word_length": avg_len,
            "gopher.hash_ratio": text.count("#") / n_words,
            "gopher.ellipsis_ratio": (text.count("...") + text.count("…")) / n_words,
            "gopher.bullet_lines_ratio": sum(ln.lstrip().startswith(("•", "-")) for ln in lines) / len(lines),
            "gopher.ellipsis_lines_ratio": sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines),
            "gopher.alpha_words_ratio": int(counts[alpha].sum()) / n_words,
            "gopher.stop_words": float(len(set(self.stop_words).intersection(distinct))),
        }
        checks = (
            ("gopher_short_doc", n_real < self.min_doc_words),
            ("gopher_long_doc", n_real > self.max_doc_words),
            ("gopher_below_avg_word_length", avg_len < self.min_avg_word_length),
            ("gopher_above_avg_word_length", avg_len > self.max_avg_word_length),
            ("gopher_too_many_hashes", s["gopher.hash_ratio"] > self.max_symbol_word_ratio),
            ("gopher_too_many_ellipsis", s["gopher.ellipsis_ratio"] > self.max_symbol_word_ratio),
            ("gopher_too_many_bullets", s["gopher.bullet_lines_ratio"] > self.max_bullet_lines_ratio),
            ("gopher_too_many_end_ellipsis", s["gopher.ellipsis_lines_ratio"] > self.max_ellipsis_lines_ratio),
            ("gopher_below_alpha_threshold", s["gopher.alpha_words_ratio"] < self.min_alpha_words_ratio),
            ("gopher_not_enough_stop_words", s["gopher.stop_words"] < self.min_stop_words),
        )
        for reason, failed in checks:
            if failed:
                return Verdict.drop(reason, **s)
        return Verdict.keep_(**s)


@register("gopher_repetition_v1")
@dataclass(frozen=True, kw_only=True)
class GopherRepetition:
    """Duplicate lines/paragraphs and repeated word n-grams, as fractions of the document."""

    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    )

    def score_names(self) -> tuple[str, ...]:
        fixed = ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")
        grams = [f"top_{n}_gram_frac" for n, _ in self.top_n_grams]
        grams += [f"dup_{n}_gram_frac" for n, _ in self.dup_n_grams]
        return tuple(f"gopher_rep.{name}" for name in (*fixed, *grams))

    def __call__(self, doc: Document) -> Verdict:
        text = doc.text
        if not text.strip():
            return Verdict.drop("empty")
        n_chars = len(text)
        s: dict[str, float] = {}

        paragraphs = _PARAGRAPH_SPLIT.split(text.strip())
        para_dups, para_dup_chars = find_duplicates(paragraphs)
        s["gopher_rep.dup_para_frac"] = para_dups / len(paragraphs)
        s["gopher_rep.dup_para_char_frac"] = para_dup_chars / n_chars
        if s["gopher_rep.dup_para_frac"] > self.dup_para_frac:
            return Verdict.drop("dup_para_frac", **s)
        if s["gopher_rep.dup_para_char_frac"] > self.dup_para_char_frac:
            return Verdict.drop("dup_para_char_frac", **s)

        lines = _LINE_SPLIT.split(text)
        line_dups, line_dup_chars = find_duplicates(lines)
        s["gopher_rep.dup_line_frac"] = line_dups / len(lines)
        s["gopher_rep.dup_line_char_frac"] = line_dup_chars / n_chars
        if s["gopher_rep.dup_line_frac"] > self.dup_line_frac:
            return Verdict.drop("dup_line_frac", **s)
        if s["gopher_rep.dup_line_char_frac"] > self.dup_line_char_frac:
            return Verdict.drop("dup_line_char_frac", **s)

        repeats = text_units.units(text, doc.lang).repeats  # words split once, shared with gopher_quality_v1
        for n, max_frac in self.top_n_grams:
            frac = repeats.top_chars(n) / n_chars
            s[f"gopher_rep.top_{n}_gram_frac"] = frac
            if frac > max_frac:
                return Verdict.drop(f"top_{n}_gram", **s)
        for n, max_frac in self.dup_n_grams:
            frac = repeats.duplicate_chars(n) / n_chars
            s[f"gopher_rep.dup_{n}_gram_frac"] = frac
            if frac > max_frac:
                return Verdict.drop(f"duplicated_{n}_n_grams", **s)
        return Verdict.keep_(**s)
