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

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np

from corpusmill.core import text_units
from corpusmill.core.ngram_hashes import POLY, char_hashes, fmix32, fold32, spaced_word_hashes, token_hashes
from corpusmill.schemas.config import MinHashConfig

ShingleKind = Literal["word", "char"]
MAX_BATCH_CELLS = 1_000_000  # shingles x permutations per NumPy pass: 4 MB, stays in cache


@dataclass(frozen=True)
class ShingleSpec:
    """How a document becomes a set of shingles (the settings and their defaults: MinHashConfig)."""

    kind: ShingleKind
    n: int
    lowercase: bool

    @classmethod
    def of(cls, config: MinHashConfig) -> ShingleSpec:
        return cls(config.shingle, config.ngram, config.lowercase)


def shingles(text: str, lang: str | None, spec: ShingleSpec) -> np.ndarray:
    """Sorted unique uint32 shingle hashes of `text` (empty for text without words)."""
    return np.unique(shingle_hashes(text, lang, spec))


def shingle_hashes(text: str, lang: str | None, spec: ShingleSpec) -> np.ndarray:
    """The uint32 hash of every shingle of `text` in text order, repeats included: a MinHash signature is
    the same with or without repeats, and making the set (a sort) cost as much as the signature, so the set
    is made only for documents whose Jaccard similarity is checked."""
    if spec.lowercase:
        text = text.lower()
    if spec.kind == "char":
        return fold32(char_hashes(" ".join(text.split())), spec.n)
    if text_units.segmenter_for(lang, text) is None:
        hashes = spaced_word_hashes(text)
    else:
        tokens = [w for w in text_units.words(text, lang) if any(c.isalnum() for c in w)]
        hashes = token_hashes(tokens)
    if not len(hashes):
        return np.empty(0, dtype=np.uint32)
    return fold32(hashes, spec.n)


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
            hv = fmix32(np.concatenate([chunk[i] for i in nonempty]))
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
            acc = acc * POLY + banded[:, :, r] + np.uint64(1)
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


