"""Benchmark decontamination: drop documents that share an n-gram with any evaluation item.

Word n-grams (default 10, as in DeepSeek-Coder/DeepSeekMath) for text in spaced scripts;
character n-grams for Chinese, Japanese and Thai, which have no spaces to count words by.
N-grams are 64-bit hashes (core/ngram_hashes.py), so with millions of document n-grams
against a benchmark's hundred thousand the chance of a false match stays negligible.
Evaluation sets are JSONL (optionally .gz) or Parquet files given by path; the text of an
item is the concatenation of its string fields among `fields`.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from corpusmill.core import text_units
from corpusmill.core.ngram_hashes import char_hashes, ngram_hashes64, spaced_word_hashes
from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.records import Document

log = logging.getLogger(__name__)
DEFAULT_FIELDS = ("question", "problem", "prompt", "text", "input", "Question", "Body", "content")


def ngrams(text: str, lang: str | None, word_n: int, char_n: int) -> np.ndarray:
    """64-bit hashes of the text's word n-grams, or character n-grams for unspaced scripts."""
    text = text.lower()
    if text_units.segmenter_for(lang, text) is None:
        words = spaced_word_hashes(text)
        return ngram_hashes64(words, word_n) if len(words) >= word_n else np.empty(0, dtype=np.uint64)
    chars = char_hashes("".join(text.split()))
    return ngram_hashes64(chars, char_n) if len(chars) >= char_n else np.empty(0, dtype=np.uint64)


def read_items(path: str, fields: tuple[str, ...]) -> list[str]:
    """The text of every item of an evaluation file (JSONL, JSONL.gz or Parquet)."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        opener = gzip.open if path.endswith(".gz") else open
        rows = []
        with opener(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError as err:
                    # one broken line must not leave the rest of a benchmark unchecked
                    log.warning("eval file %s line %d is not JSON (%s); skipped", path, number, err)
    rows = [row for row in rows if isinstance(row, dict)]
    return ["\n".join(str(row[k]) for k in fields if isinstance(row.get(k), str)) for row in rows]


@register("decontamination_v1")
@dataclass(frozen=True, kw_only=True)
class Decontamination:
    """Drop documents sharing a word `ngram` (or CJK character `cjk_ngram`) with an evaluation item."""

    eval_files: tuple[str, ...]
    fields: tuple[str, ...] = DEFAULT_FIELDS
    ngram: int = 10
    cjk_ngram: int = 10
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def score_names(self) -> tuple[str, ...]:
        return ("decontam.matched_ngrams",)

    def __post_init__(self) -> None:
        # YAML gives lists; keep the frozen filter hashable and its parameters immutable
        object.__setattr__(self, "eval_files", tuple(self.eval_files))
        object.__setattr__(self, "fields", tuple(self.fields))
        if not self.eval_files:
            raise ValueError("eval_files is empty; give at least one JSONL or Parquet file of evaluation items")
        missing = [p for p in self.eval_files if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"eval file not found: {missing[0]}")
        if self.ngram < 1 or self.cjk_ngram < 1:
            raise ValueError(f"ngram and cjk_ngram must be at least 1, got {self.ngram} and {self.cjk_ngram}")

    def setup(self) -> None:
        """Hash every evaluation item's n-grams once (kept out of the pickled filter)."""
        if self._index:
            return
        keys, owners, labels = [], [], []
        for path in self.eval_files:
            name = os.path.basename(path)
            for i, item in enumerate(read_items(path, self.fields)):
                hashes = np.unique(ngrams(item, None, self.ngram, self.cjk_ngram))
                keys.append(hashes)
                owners.append(np.full(len(hashes), len(labels), dtype=np.int64))
                labels.append(f"{name}#{i}: {' '.join(item.split())[:200]}")
        all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
        order = np.argsort(all_keys, kind="stable")
        self._index.update(keys=all_keys[order], owners=np.concatenate(owners)[order] if owners else all_keys,
                           labels=labels)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_index"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __call__(self, doc: Document) -> Verdict:
        self.setup()
        keys = self._index["keys"]
        grams = ngrams(doc.text, doc.lang, self.ngram, self.cjk_ngram)
        if not len(grams) or not len(keys):
            return Verdict.keep_(**{"decontam.matched_ngrams": 0.0})
        pos = np.clip(np.searchsorted(keys, grams), 0, len(keys) - 1)
        hits = keys[pos] == grams
        matched = int(hits.sum())
        if not matched:
            return Verdict.keep_(**{"decontam.matched_ngrams": 0.0})
        first = self._index["labels"][int(self._index["owners"][pos[np.argmax(hits)]])]
        return Verdict.drop("contaminated", detail=first, **{"decontam.matched_ngrams": float(matched)})
