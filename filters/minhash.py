"""MinHash signatures, LSH banding and exact Jaccard: pure NumPy over plain arrays.

Shingles are 32-bit hashes of word n-grams (language-aware word splitting, so Chinese
and Japanese are split into words, not one giant "word") or of character n-grams. The
signature follows datasketch's default `affine32` scheme exactly (murmur3 fmix32 of the
hash, then `a*h + b mod 2^32` with datasketch's seeded parameters), so the vectorised
backend and datasketch produce identical signatures and are interchangeable
(`signature_backend`). The NumPy backend computes a whole batch of documents in one pass
and is the faster one (bench/dedup_speed.py prints both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import xxhash

from filters import text_units

ShingleKind = Literal["word", "char"]
MAX_BATCH_CELLS = 1_000_000  # shingles x permutations per NumPy pass: 4 MB, stays in cache
_POLY = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for combining token hashes


@dataclass(frozen=True)
class ShingleSpec:
    """How a document becomes a set of shingles."""

    kind: ShingleKind = "word"
    n: int = 5
    lowercase: bool = True


def _fmix32(h: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser, as datasketch applies it before permuting."""
    h = h.astype(np.uint32, copy=True)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _combine_ngrams(token_hashes: np.ndarray, n: int) -> np.ndarray:
    """Hash of every window of `n` consecutive token hashes (a polynomial over uint64, folded to 32 bits)."""
    if len(token_hashes) == 0:
        return np.empty(0, dtype=np.uint32)
    if len(token_hashes) < n:
        n = len(token_hashes)  # a text shorter than one shingle is one shingle
    t = token_hashes.astype(np.uint64)
    count = len(t) - n + 1
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = acc * _POLY + t[k : k + count]
    return (acc ^ (acc >> np.uint64(32))).astype(np.uint32)


def shingles(text: str, lang: str | None, spec: ShingleSpec) -> np.ndarray:
    """Sorted unique uint32 shingle hashes of `text` (empty for text without words)."""
    if spec.lowercase:
        text = text.lower()
    if spec.kind == "char":
        collapsed = " ".join(text.split())
        codes = np.frombuffer(collapsed.encode("utf-32-le"), dtype=np.uint32)
        return np.unique(_combine_ngrams(_fmix32(codes), spec.n))
    tokens = shingle_words(text, lang)
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    return np.unique(_combine_ngrams(token_hashes(tokens), spec.n))


# Python's `re` is about 1.5x faster than `regex` here; \w is Unicode letters, digits and underscore.
_WORD_CHARS = re.compile(r"\w+(?:['’.]\w+)*")
_TOKEN_HASHES: dict[str, int] = {}
MAX_CACHED_TOKENS = 2_000_000  # about 200 MB; word frequencies are Zipfian, so hits stay high


def shingle_words(text: str, lang: str | None) -> list[str]:
    """The words shingles are made of: punctuation dropped; unspaced scripts segmented into words."""
    if text_units.segmenter_for(lang, text) is None:
        return _WORD_CHARS.findall(text)
    return [w for w in text_units.words(text, lang) if any(c.isalnum() for c in w)]


def token_hashes(tokens: list[str]) -> np.ndarray:
    """Stable 32-bit xxHash of each token, through a process-wide cache (a dict lookup is 5x cheaper)."""
    table = _TOKEN_HASHES
    missing = set(tokens).difference(table)  # set operations run in C; a Python loop per token would not
    if missing:
        if len(table) + len(missing) > MAX_CACHED_TOKENS:
            table.clear()
            missing = set(tokens)
        for token in missing:
            table[token] = xxhash.xxh32_intdigest(token.encode("utf-8"))
    return np.array(list(map(table.__getitem__, tokens)), dtype=np.uint32)


@cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 parameters for (num_perm, seed): odd multipliers `a`, offsets `b`."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(shingle_sets: list[np.ndarray], num_perm: int, seed: int,
               backend: Literal["numpy", "datasketch"] = "numpy") -> np.ndarray:
    """MinHash signatures, one row of `num_perm` uint32 per shingle set (all 0xFFFFFFFF for an empty set)."""
    if backend == "datasketch":
        return _signatures_datasketch(shingle_sets, num_perm, seed)
    a, b = permutations(num_perm, seed)
    out = np.full((len(shingle_sets), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    start = 0
    while start < len(shingle_sets):
        # take as many documents as fit in one bounded NumPy pass
        stop, cells = start, 0
        while stop < len(shingle_sets) and (stop == start or cells + len(shingle_sets[stop]) * num_perm
                                            <= MAX_BATCH_CELLS):
            cells += len(shingle_sets[stop]) * num_perm
            stop += 1
        chunk = shingle_sets[start:stop]
        lengths = np.fromiter((len(s) for s in chunk), dtype=np.int64, count=len(chunk))
        nonempty = np.flatnonzero(lengths)
        if len(nonempty):
            hv = _fmix32(np.concatenate([chunk[i] for i in nonempty]))
            # permutations x shingles, so each permutation's row is contiguous for the min-reduce
            # (6x faster than the transposed layout, measured)
            with np.errstate(over="ignore"):
                permuted = np.multiply(a[:, None], hv[None, :])
                permuted += b[:, None]
            offsets = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
            out[start + nonempty] = np.minimum.reduceat(permuted, offsets, axis=1).T
        start = stop
    return out


def _signatures_datasketch(shingle_sets: list[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    from datasketch import MinHash

    out = np.full((len(shingle_sets), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    template = MinHash(num_perm=num_perm, seed=seed, hashfunc=int)
    for i, shingle_set in enumerate(shingle_sets):
        if len(shingle_set):
            m = template.copy()
            m.update_batch(shingle_set.tolist())
            out[i] = m.hashvalues
    return out


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents x bands) uint64 hash of each band's `rows` signature values."""
    n = len(sigs)
    banded = np.ascontiguousarray(sigs[:, : bands * rows]).reshape(n, bands, rows).astype(np.uint64)
    acc = np.zeros((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            acc = acc * _POLY + banded[:, :, r] + np.uint64(1)
    # fold in the band number so equal values in different bands never share a bucket key
    return acc ^ (np.arange(bands, dtype=np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays (1.0 for two empty sets)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal signature positions: the MinHash estimate of Jaccard similarity."""
    return float(np.mean(sig_a == sig_b))


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two documents of this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.1, fn_weight: float = 0.9
                  ) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimising fp_weight*FP area + fn_weight*FN area.

    The areas are those of datasketch's MinHashLSH (integrals of the candidate probability
    below and above the threshold), integrated with a fine trapezoid grid instead of scipy.
    The default weights favour recall: candidates are verified afterwards, so a false
    positive costs a check while a false negative loses a duplicate for good.
    """
    below = np.linspace(0.0, threshold, 513)
    above = np.linspace(threshold, 1.0, 513)
    best, best_error = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(1.0 - (1.0 - below**rows) ** bands, below)
            fn = np.trapezoid((1.0 - above**rows) ** bands, above)
            error = fp_weight * fp + fn_weight * fn
            if error < best_error - 1e-12:
                best, best_error = (bands, rows), error
    return best
