"""FineWeb's additional quality rules (Penedo et al. 2024, FineWeb datasheet, section 3.3).

Same thresholds and semantics as datatrove's FineWebQualityFilter, with the measured
ratios returned as scores.
"""

from __future__ import annotations

from dataclasses import dataclass

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import TERMINAL_PUNCTUATION

from corpusmill.core import text_units
from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.records import Document

_STOP_CHARS = tuple(sorted(TERMINAL_PUNCTUATION))


@register("fineweb_quality_v1")
@dataclass(frozen=True, kw_only=True)
class FineWebQuality:
    """Share of lines ending in punctuation, short lines, duplicated-line chars, newlines per word."""

    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3

    def score_names(self) -> tuple[str, ...]:
        return ("fineweb.line_punct_ratio", "fineweb.short_line_ratio", "fineweb.char_dup_ratio",
                "fineweb.newline_ratio")

    def __call__(self, doc: Document) -> Verdict:
        lines = [ln for ln in doc.text.split("\n") if ln.strip()]
        if not lines:
            return Verdict.drop("empty")
        s = {"fineweb.line_punct_ratio": sum(ln.endswith(_STOP_CHARS) for ln in lines) / len(lines)}
        if s["fineweb.line_punct_ratio"] < self.line_punct_thr and not (
            s["fineweb.line_punct_ratio"] == 0 and self.line_punct_exclude_zero
        ):
            return Verdict.drop("line_punct_ratio", **s)

        s["fineweb.short_line_ratio"] = sum(len(ln) <= self.short_line_length for ln in lines) / len(lines)
        if s["fineweb.short_line_ratio"] > self.short_line_thr:
            return Verdict.drop("short_line_ratio", **s)

        non_newline_chars = max(len(doc.text) - doc.text.count("\n"), 1)
        s["fineweb.char_dup_ratio"] = find_duplicates(lines)[1] / non_newline_chars
        if s["fineweb.char_dup_ratio"] > self.char_duplicates_ratio:
            return Verdict.drop("char_dup_ratio", **s)

        # In curate this text is the one C4 rewrote: text_units splits it mostly from its memory of the
        # lines of the page it came from, which the Gopher rules split moments before.
        n_words = max(len(text_units.words(doc.text, doc.lang)), 1)
        s["fineweb.newline_ratio"] = doc.text.count("\n") / n_words
        if s["fineweb.newline_ratio"] > self.new_line_ratio:
            return Verdict.drop("list_ratio", **s)
        return Verdict.keep_(**s)
