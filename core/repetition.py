"""Repetition statistics over word n-grams (Gopher's, Rae et al. 2021): shared by the Gopher
repetition rule and the degenerate-repetition check on reasoning traces."""

from __future__ import annotations

from collections import Counter


def top_ngram_chars(words: tuple[str, ...], n: int) -> int:
    """Characters covered by the most frequent word n-gram (its length with spaces x its count).

    datatrove's find_top_duplicate over tuples instead of joined strings: the same counts,
    without building a string per position. Ties go to the n-gram seen first, as there.
    """
    if len(words) < n:
        return 0
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    gram, count = counts.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count


def duplicate_ngram_chars(words: tuple[str, ...], n: int) -> int:
    """Characters (spaces excluded) inside n-grams that repeat an earlier one, counting each
    word once: datatrove's find_all_duplicate, keyed by tuples."""
    seen: set[tuple[str, ...]] = set()
    repeated, i, last = 0, 0, len(words) - n + 1
    while i < last:
        gram = words[i : i + n]
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated
