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


def ngram_hashes64(hashes: np.ndarray, n: int) -> np.ndarray:
    """64-bit hash of every window of `n` consecutive token hashes (one window if there are fewer)."""
    if len(hashes) == 0:
        return np.empty(0, dtype=np.uint64)
    if len(hashes) < n:
        n = len(hashes)  # a text shorter than one shingle is one shingle
    t = hashes.astype(np.uint64)
    count = len(t) - n + 1
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = acc * _POLY + t[k : k + count]
    return acc


def _combine_ngrams(hashes: np.ndarray, n: int) -> np.ndarray:
    """n-gram hashes folded to the 32 bits MinHash works on."""
    acc = ngram_hashes64(hashes, n)
    return (acc ^ (acc >> np.uint64(32))).astype(np.uint32)


def shingles(text: str, lang: str | None, spec: ShingleSpec) -> np.ndarray:
    """Sorted unique uint32 shingle hashes of `text` (empty for text without words)."""
    if spec.lowercase:
        text = text.lower()
    if spec.kind == "char":
        return np.unique(_combine_ngrams(char_hashes(" ".join(text.split())), spec.n))
    if text_units.segmenter_for(lang, text) is None:
        hashes = spaced_word_hashes(text)
    else:
        tokens = [w for w in text_units.words(text, lang) if any(c.isalnum() for c in w)]
        hashes = token_hashes(tokens)
    if not len(hashes):
        return np.empty(0, dtype=np.uint32)
    return np.unique(_combine_ngrams(hashes, spec.n))


_TOKEN_HASHES: dict[str, int] = {}
MAX_CACHED_TOKENS = 2_000_000  # bounds the cache; word frequencies are Zipfian, so hits stay high
_BYTE_PRIME = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: odd, so invertible modulo 2^64
_BYTE_PRIME_INV = np.uint64(pow(int(_BYTE_PRIME), -1, 1 << 64))
# ASCII letters and digits are word bytes, other ASCII bytes separate words; bytes of non-ASCII
# characters are word bytes, except those of the General Punctuation block (’ “ ” — …).
_SEPARATOR = np.array([not (c < 128 and chr(c).isalnum()) and c < 128 for c in range(256)], dtype=bool)
_POWERS = {"p": np.ones(1, dtype=np.uint64), "inv": np.ones(1, dtype=np.uint64)}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^k and P^-k modulo 2^64 for k < n (cached, grown by doubling)."""
    if len(_POWERS["p"]) < n:
        size = max(n, 2 * len(_POWERS["p"]))
        for key, base in (("p", _BYTE_PRIME), ("inv", _BYTE_PRIME_INV)):
            steps = np.full(size, base, dtype=np.uint64)
            steps[0] = 1
            _POWERS[key] = np.cumprod(steps, dtype=np.uint64)
    return _POWERS["p"], _POWERS["inv"]


def spaced_word_hashes(text: str) -> np.ndarray:
    """A 64-bit polynomial hash of every word of a text in a spaced script, in one NumPy pass.

    The word of bytes s..e hashes to sum(b[k] * P^(e-1-k)), read off prefix sums of
    b[k] * P^-k (arithmetic modulo 2^64): about 4x faster than a regex plus a hash per
    word in Python, which was the largest cost of near-duplicate detection. Apostrophes
    and periods split words here (don|t, u|s): the same everywhere, so similarities hold.
    """
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    n = len(data)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    word = ~_SEPARATOR[data]
    if n > 2:
        punct = np.flatnonzero((data[:-2] == 0xE2) & (data[1:-1] >= 0x80) & (data[1:-1] <= 0x81))
        word[punct] = word[punct + 1] = word[punct + 2] = False
    edges = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    powers, inverse = _powers(n)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(data.astype(np.uint64) * inverse[:n], out=prefix[1:])
        return powers[ends - 1] * (prefix[ends] - prefix[starts])


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


def char_hashes(text: str) -> np.ndarray:
    """A hash per character (code point), for character n-grams."""
    return _fmix32(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32))


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
