"""Repetition statistics over word n-grams (Gopher's, Rae et al. 2021): shared by the Gopher
repetition rule and the degenerate-repetition check on reasoning traces.

The numbers are datatrove's find_top_duplicate / find_all_duplicate over word tuples (an n-gram is
its words, not their concatenation). They are computed on exact integer ids, never on hashes that
could collide: every word gets the index of its first appearance, and the (n+1)-gram at position i
gets the rank of the pair (id of the n-gram at i, id of word i+n), one NumPy sort per n > 1. An
n-gram can only repeat where the n-gram one word shorter repeats, so each step sorts only the
positions still repeating: most words of a page for n = 2, a few percent of ordinary prose by n = 5.
On real pages this is 5x faster than the Python scans over tuple slices it replaced.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def word_ids(words: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct words in first-seen order, and for every word its index among them."""
    distinct = list(dict.fromkeys(words))
    index = dict(zip(distinct, range(len(distinct)), strict=True))
    return distinct, np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))


@dataclass(frozen=True)
class _Repeating:
    """The n-grams that occur more than once: their positions (ascending), the group (distinct
    n-gram) of each position, and per group its first position and its count (for n = 1 the groups
    are the word ids, words that occur once included)."""

    positions: np.ndarray
    group: np.ndarray
    first: np.ndarray
    count: np.ndarray


_NOTHING = np.empty(0, dtype=np.int64)
_EMPTY = _Repeating(_NOTHING, _NOTHING, _NOTHING, _NOTHING)


class NgramRepeats:
    """Top and duplicated word n-gram statistics of one word sequence, for any n, each level computed once."""

    def __init__(self, words: Sequence[str], ids: np.ndarray | None = None, lengths: np.ndarray | None = None):
        """`ids` as word_ids gives them and each word's length, when already known."""
        self.n_words = n_words = len(words)
        self.ids = word_ids(words)[1] if ids is None else ids
        if lengths is None:
            lengths = np.fromiter(map(len, words), dtype=np.int64, count=n_words)
        # characters of words[i:j] (spaces excluded) = chars[j] - chars[i]
        self.chars = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.chars[1:])
        self._levels: list[_Repeating | None] = [None, self._words()]

    def _words(self) -> _Repeating:
        """Level 1 without a sort: ids number words by first appearance, so a word's first position is where
        its id first exceeds every id before it. Groups are the word ids themselves, repeated or not."""
        ids = self.ids
        if not len(ids):
            return _EMPTY
        count = np.bincount(ids)
        running_max = np.maximum.accumulate(ids)
        is_first = np.empty(len(ids), dtype=bool)
        is_first[0] = True
        np.greater(ids[1:], running_max[:-1], out=is_first[1:])
        positions = np.flatnonzero(count[ids] >= 2)
        return _Repeating(positions, ids[positions], np.flatnonzero(is_first), count)

    def _level(self, n: int) -> _Repeating:
        while len(self._levels) <= n:
            self._levels.append(self._extend(self._levels[-1], len(self._levels) - 1))
        return self._levels[n]

    def _extend(self, shorter: _Repeating, m: int) -> _Repeating:
        """The repeating (m+1)-grams from the repeating m-grams: each m-gram extended by the next word."""
        positions = shorter.positions[shorter.positions < self.n_words - m]  # an (m+1)-gram starts there
        if len(positions) < 2:
            return _EMPTY
        # groups and ids are below n_words: the key is exact in int64 up to 3e9 words
        keys = shorter.group[: len(positions)] * self.n_words + self.ids[positions + m]
        order = np.argsort(keys)
        ordered = keys[order]
        starts_here = np.empty(len(keys), dtype=bool)
        starts_here[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=starts_here[1:])
        starts = np.flatnonzero(starts_here)
        count = np.empty(len(starts), dtype=np.int64)
        np.subtract(starts[1:], starts[:-1], out=count[:-1])
        count[-1] = len(keys) - starts[-1]
        repeated = count >= 2
        if not repeated.any():
            return _EMPTY
        group = np.empty(len(keys), dtype=np.int64)
        group[order] = np.cumsum(starts_here) - 1
        # positions ascend, so a group's first position is its smallest (the sort need not be stable)
        first = np.minimum.reduceat(positions[order], starts)
        keep = repeated[group]
        renumber = np.cumsum(repeated) - 1
        return _Repeating(positions[keep], renumber[group[keep]], first[repeated], count[repeated])

    def top_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram: its length with spaces times its count.

        Ties go to the n-gram seen first (Counter.most_common, as in datatrove's find_top_duplicate).
        """
        if n < 1 or self.n_words < n:
            return 0
        level = self._level(n)
        most = int(level.count.max()) if len(level.count) else 1
        if most >= 2:
            start = int(level.first[level.count == most].min())
        else:  # every n-gram occurs once: the first one wins the tie
            most, start = 1, 0
        return (int(self.chars[start + n] - self.chars[start]) + n - 1) * most

    def duplicate_chars(self, n: int) -> int:
        """Characters (spaces excluded) inside n-grams that repeat an earlier one, counting each word
        once: datatrove's find_all_duplicate.

        That scan walks the positions and, at an n-gram already seen *at a visited position*, counts
        it and jumps n words ahead, so the positions it jumps over are never added to the seen set.
        Whether a position counts thus depends on the jumps before it, which no array operation
        expresses; the loop below is the same scan restricted to the positions whose n-gram occurred
        before (few in ordinary text), asking of each only whether an earlier occurrence was visited.
        """
        if n < 1 or self.n_words < n:
            return 0
        level = self._level(n)
        first = level.first[level.group]
        later = np.flatnonzero(first < level.positions)  # repeats of an earlier occurrence
        if not len(later):
            return 0
        positions = level.positions[later]
        hits: list[int] = []  # positions counted, ascending; each hides the n - 1 positions after it
        visited_groups: set[int] = set()  # n-grams seen again at a visited position that was no hit
        resume = 0
        repeated = 0
        for pos, group, first_pos, chars in zip(positions.tolist(), level.group[later].tolist(),
                                                first[later].tolist(),
                                                (self.chars[positions + n] - self.chars[positions]).tolist(),
                                                strict=True):
            if pos < resume:
                continue  # jumped over
            k = bisect_left(hits, first_pos)
            first_visited = not (k and first_pos < hits[k - 1] + n)
            if first_visited or group in visited_groups:
                repeated += chars
                hits.append(pos)
                resume = pos + n
            else:
                visited_groups.add(group)
        return repeated


def top_ngram_chars(words: Sequence[str], n: int) -> int:
    """Characters covered by the most frequent word n-gram (its length with spaces x its count)."""
    return NgramRepeats(words).top_chars(n)


def duplicate_ngram_chars(words: Sequence[str], n: int) -> int:
    """Characters (spaces excluded) inside n-grams that repeat an earlier one, counting each word
    once: datatrove's find_all_duplicate, keyed by word tuples."""
    return NgramRepeats(words).duplicate_chars(n)
