"""Benchmark decontamination: drop documents that share an n-gram with any evaluation item.

Word n-grams (default 10, as in DeepSeek-Coder/DeepSeekMath) for text in spaced scripts, and
character n-grams for Chinese, Japanese and Thai, which have no spaces to count words by. A
document is cut both ways at once: word n-grams over its runs of spaced text, character
n-grams over the whole text when it holds unspaced script, so a Chinese page that quotes an
English problem is caught as surely as an English one.

An n-gram made only of numbers and single characters ("1 2 3 4 5 6 7 8 9 10") never counts as
a match: in a held-out test every false positive came from one such benchmark item, which any
page that counts to ten matched.

N-grams are 64-bit hashes (core/ngram_hashes.py), so with millions of document n-grams against
a benchmark's hundred thousand the chance of a false match stays negligible. Evaluation sets are
JSONL (optionally .gz) or Parquet files; GSM8K, MATH, MBPP, HumanEval and LeetCode records are
recognised from their fields (or named), anything else is read from its text-like fields.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from corpusmill.core.names import unique_names
from corpusmill.core.ngram_hashes import char_hashes, ngram_hashes64, spaced_words_trivial
from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.records import Document

log = logging.getLogger(__name__)
# Statements, their context and worked solutions, whatever a benchmark calls them (ASDiv and SVAMP put the
# story in body/Body, OlympiadBench in context, GAOKAO cloze in passage, AQuA its solution in rationale).
DEFAULT_FIELDS = ("body", "Body", "passage", "context", "question", "Question", "problem", "prompt", "text", "input",
                  "content", "rationale", "solution")
# The fields that make an item of each known benchmark: problem statements and reference solutions.
BENCHMARK_FIELDS: dict[str, tuple[str, ...]] = {
    "gsm8k": ("question", "answer"),
    "math": ("problem", "solution", "answer"),
    "mbpp": ("text", "code", "test_list"),
    "humaneval": ("prompt", "canonical_solution", "test"),
    "leetcode": ("prompt",),  # the tests are hundreds of asserts of numbers: statements suffice
    "plain": ("text",),
    "auto": DEFAULT_FIELDS,
}
# Scripts written without spaces (kana, CJK ideographs, Thai), cut into character n-grams.
_UNSPACED = re.compile("[\u0e00-\u0e7f\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_WORDLIKE_CHAR = re.compile(r"[^\W\d_]")  # a letter or ideograph: a character n-gram needs one to count


def benchmark_format(row: dict) -> str:
    """The benchmark a record comes from, by its fields."""
    if "test_list" in row:
        return "mbpp"
    if "entry_point" in row and ("canonical_solution" in row or "test" in row):
        return "humaneval"
    if "prompt" in row and "Solution" in str(row.get("test", "")):
        return "leetcode"
    if set(row) == {"question", "answer"}:  # GSM8K's two fields and nothing else (ASDiv has a body too)
        return "gsm8k"
    if "problem" in row:
        return "math"
    return "auto"


def item_text(row: dict, fmt: str) -> str:
    """The text of one evaluation item: its fields of that benchmark, joined."""
    fields = BENCHMARK_FIELDS["auto" if fmt == "auto" else fmt]
    parts = []
    for key in fields:
        value = row.get(key)
        if isinstance(value, list):
            value = "\n".join(map(str, value))
        if isinstance(value, str):
            parts.append(value)
    return "\n".join(parts)


def ngrams(text: str, word_n: int, char_n: int) -> np.ndarray:
    """64-bit hashes of the text's telling n-grams: word n-grams of its spaced runs, and character
    n-grams of its unspaced-script characters (CJK, kana, Thai) joined."""
    return ngrams_of_many([text], word_n, char_n)[0]


def ngrams_of_many(texts: list[str], word_n: int, char_n: int) -> tuple[np.ndarray, np.ndarray]:
    """`ngrams` of many texts in one NumPy pass: (hashes, the index of the text each came from).

    All spaced runs are joined by newlines and cut into words at once; a window is kept when its first
    and last word are of one run. The index build of 18,000 benchmark items took 4.4 s item by item, paid
    by every worker at start-up; documents go through the same function, so both are cut the same way.
    """
    runs, run_owner, unspaced, unspaced_owner = [], [], [], []
    for i, text in enumerate(texts):
        # NFKC: full-width letters, digits and punctuation (＂：（） in Chinese text) become their ASCII forms,
        # so an English problem after "题目：" splits into the same words as on its own
        text = unicodedata.normalize("NFKC", text).lower()
        parts = _UNSPACED.split(text)
        runs += parts
        run_owner += [i] * len(parts)
        if len(parts) > 1:
            # only the unspaced script's characters: Latin letters joined across spaces would make n-grams
            # of ordinary English (a katakana dot in an English page once made the whole page character
            # n-grams, which matched the English parts of LeetCode-zh items)
            chars = "".join(_UNSPACED.findall(text))
            if len(chars) >= char_n:
                unspaced.append(chars)
                unspaced_owner.append(i)
    hashes, owners = [], []
    _windows(*_spaced_units(runs), np.asarray(run_owner, dtype=np.int64), word_n, hashes, owners)
    if unspaced:
        _windows(*_char_units(unspaced), np.asarray(unspaced_owner, dtype=np.int64), char_n, hashes, owners)
    if not hashes:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    return np.concatenate(hashes), np.concatenate(owners)


def _spaced_units(runs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word hashes, whether each word tells something, the run each word is in) of all runs."""
    words, trivial, starts = spaced_words_trivial("\n".join(runs))
    sizes = np.fromiter((len(r.encode("utf-8", "surrogatepass")) + 1 for r in runs), dtype=np.int64, count=len(runs))
    run_starts = np.cumsum(sizes) - sizes
    return words, ~trivial, np.searchsorted(run_starts, starts, side="right") - 1


def _char_units(strings: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(character hashes, whether each is a letter or ideograph, the string each is in)."""
    joined = "".join(strings)
    wordlike = np.fromiter((bool(_WORDLIKE_CHAR.match(c)) for c in joined), dtype=bool, count=len(joined))
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    return char_hashes(joined), wordlike, np.repeat(np.arange(len(strings)), lengths)


def _windows(units: np.ndarray, informative: np.ndarray, group: np.ndarray, group_owner: np.ndarray, n: int,
             hashes: list, owners: list) -> None:
    """Append the hashes of the n-unit windows that lie inside one group and hold an informative unit."""
    if len(units) < n:
        return
    grams = ngram_hashes64(units, n)
    keep = (group[: len(grams)] == group[n - 1:]) & _telling(informative, n)
    hashes.append(grams[keep])
    owners.append(group_owner[group[: len(grams)][keep]])


def _telling(informative: np.ndarray, n: int) -> np.ndarray:
    """For each window of n tokens: whether at least one of them is informative."""
    counts = np.concatenate(([0], np.cumsum(informative, dtype=np.int64)))
    return counts[n:] - counts[:-n] > 0


def read_items(path: str, fmt: str = "auto") -> tuple[list[str], str]:
    """(the text of every item, the benchmark format) of an evaluation file (JSONL, JSONL.gz, Parquet)."""
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
    if fmt == "auto" and rows:
        fmt = benchmark_format(rows[0])
    return [item_text(row, fmt) for row in rows], fmt


_BUILT_INDEXES: dict[tuple, dict] = {}


@dataclass(frozen=True)
class EvalSet:
    """One evaluation file: its path, its benchmark format (auto: recognised) and its name in reports."""

    path: str
    format: str = "auto"
    name: str = ""


@register("decontamination_v1")
@dataclass(frozen=True, kw_only=True)
class Decontamination:
    """Drop documents sharing a word `ngram` (or unspaced-script character `cjk_ngram`) with an evaluation
    item. `eval_files` are paths, or {path, format, name} with format one of BENCHMARK_FIELDS."""

    eval_files: tuple
    ngram: int = 10
    cjk_ngram: int = 10
    _sets: tuple = field(default=(), compare=False, repr=False)
    # Every item's text, read where the filter is made: a worker on a cluster need not see the eval files.
    _items: tuple = field(default=(), compare=False, repr=False)
    _items_hash: str = field(default="", compare=False, repr=False)
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def score_names(self) -> tuple[str, ...]:
        return ("decontam.matched_ngrams",)

    def __post_init__(self) -> None:
        if not self.eval_files:
            raise ValueError("eval_files is empty; give at least one JSONL or Parquet file of evaluation items")
        entries = [e if isinstance(e, dict) else {"path": e} for e in self.eval_files]
        for e in entries:
            unknown = set(e) - {"path", "format", "name"}
            if "path" not in e or unknown:
                raise ValueError(f"an eval_files entry is a path or {{path, format, name}}; got {e!r}")
            if e.get("format", "auto") not in BENCHMARK_FIELDS:
                raise ValueError(f"unknown benchmark format {e['format']!r}; known: {', '.join(BENCHMARK_FIELDS)}")
            if not os.path.isfile(e["path"]):
                raise ValueError(f"eval file not found: {e['path']}")
        if self.ngram < 1 or self.cjk_ngram < 1:
            raise ValueError(f"ngram and cjk_ngram must be at least 1, got {self.ngram} and {self.cjk_ngram}")
        names = unique_names([e["path"] for e in entries])
        sets = tuple(EvalSet(e["path"], e.get("format", "auto"), e.get("name") or names[e["path"]]) for e in entries)
        # YAML gives lists and dicts; keep the frozen filter hashable and its parameters immutable
        object.__setattr__(self, "eval_files", tuple(json.dumps(e, sort_keys=True) if isinstance(e, dict) else e
                                                     for e in self.eval_files))
        object.__setattr__(self, "_sets", sets)
        items = tuple(tuple(read_items(e.path, e.format)[0]) for e in sets)
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_items_hash", hashlib.sha256(json.dumps(items).encode()).hexdigest())

    def setup(self) -> None:
        """Hash every evaluation item's n-grams once per process (kept out of the pickled filter): a runner
        may set up several instances in one worker, and each used to build its own index."""
        if self._index:
            return
        key = (self._sets, self.ngram, self.cjk_ngram, self._items_hash)
        if key not in _BUILT_INDEXES:
            _BUILT_INDEXES.clear()  # one index per process at a time: they can be large
            _BUILT_INDEXES[key] = self._build_index()
        self._index.update(_BUILT_INDEXES[key])

    def _build_index(self) -> dict:
        texts, labels = [], []
        for eval_set, items in zip(self._sets, self._items, strict=True):
            texts += items
            labels += [(eval_set.name, f"{eval_set.name}#{i}: {' '.join(item.split())[:200]}")
                       for i, item in enumerate(items)]
        keys, owners = ngrams_of_many(texts, self.ngram, self.cjk_ngram)
        order = np.argsort(keys, kind="stable")
        return {"keys": keys[order], "owners": owners[order], "labels": labels}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_index"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __call__(self, doc: Document) -> Verdict:
        self.setup()
        keys = self._index["keys"]
        grams = ngrams(doc.text, self.ngram, self.cjk_ngram)
        if not len(grams) or not len(keys):
            return Verdict.keep_(**{"decontam.matched_ngrams": 0.0})
        pos = np.clip(np.searchsorted(keys, grams), 0, len(keys) - 1)
        hits = keys[pos] == grams
        matched = int(hits.sum())
        if not matched:
            return Verdict.keep_(**{"decontam.matched_ngrams": 0.0})
        benchmark, first = self._index["labels"][int(self._index["owners"][pos[np.argmax(hits)]])]
        return Verdict.drop("contaminated", detail=first, tag=f"benchmark.{benchmark}",
                            **{"decontam.matched_ngrams": float(matched)})
