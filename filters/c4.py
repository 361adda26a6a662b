"""C4's line and page rules (Raffel et al. 2020, section 2.2; TFDS c4_utils), without the bad-words list.

Same rules and defaults as datatrove's C4QualityFilter, including its additions from
the TFDS code (lines with a word over 1000 chars, cookie/terms-of-use lines). The
bad-words rule needs a downloaded list and is left out on purpose. Kept documents
are rewritten to the lines that survived, as C4 does.
"""

from __future__ import annotations

from dataclasses import dataclass

from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, ELLIPSIS, END_PUNCTUATION, POLICY_SUBSTRINGS

from corpusmill.core import text_units
from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.records import Document


@register("c4_quality_v1")
@dataclass(frozen=True, kw_only=True)
class C4Quality:
    """Drop lines without terminal punctuation, short lines, javascript and policy lines; drop pages with
    lorem ipsum, curly brackets or too few sentences."""

    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # -1 disables
    min_words_per_line: int = 3  # -1 disables
    max_word_length: int = 1000  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    def score_names(self) -> tuple[str, ...]:
        return ("c4.lines", "c4.kept_lines", "c4.sentences")

    def __call__(self, doc: Document) -> Verdict:
        lines = doc.text.splitlines()
        kept: list[str] = []
        n_sentences = 0
        for raw in lines:
            line = raw.strip()
            words = line.split()
            # a word that long needs a line that long: most lines skip the look at every word
            if (self.max_word_length != -1 and len(line) > self.max_word_length
                    and any(len(w) > self.max_word_length for w in words)):
                continue
            if self.remove_citations and "[" in line:  # every citation pattern starts with "["
                line = CITATION_REGEX.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)):
                continue
            if len(words) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                return Verdict.drop("lorem_ipsum", **{"c4.lines": float(len(lines))})
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                return Verdict.drop("curly_bracket", **{"c4.lines": float(len(lines))})
            if self.filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
                continue
            if self.min_num_sentences != -1:
                n_sentences += text_units.count_sentences(line, doc.lang)
            kept.append(line)
        s = {
            "c4.lines": float(len(lines)),
            "c4.kept_lines": float(len(kept)),
            "c4.sentences": float(n_sentences),
        }
        if n_sentences < self.min_num_sentences:
            return Verdict.drop("too_few_sentences", **s)
        return Verdict.rewrite("\n".join(kept).strip(), **s)
