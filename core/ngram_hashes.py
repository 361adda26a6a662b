"""Hashes of words, characters and n-grams of them: pure NumPy, shared by MinHash dedup and
decontamination so both cut text the same way."""

from __future__ import annotations

import numpy as np
import xxhash

POLY = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for combining token hashes


def fmix32(h: np.ndarray) -> np.ndarray:
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
            acc = acc * POLY + t[k : k + count]
    return acc


def fold32(hashes: np.ndarray, n: int) -> np.ndarray:
    """n-gram hashes folded to the 32 bits MinHash works on."""
    acc = ngram_hashes64(hashes, n)
    return (acc ^ (acc >> np.uint64(32))).astype(np.uint32)


# The caches below are shared by the threads of a Beam bundle: they are only ever replaced whole (one
# assignment, atomic under the GIL) or added to, never cleared or resized in place, so a reader holding
# the old object still sees a complete one.
_TOKEN_HASHES: list[dict[str, int]] = [{}]
MAX_CACHED_TOKENS = 2_000_000  # bounds the cache; word frequencies are Zipfian, so hits stay high
_BYTE_PRIME = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: odd, so invertible modulo 2^64
_BYTE_PRIME_INV = np.uint64(pow(int(_BYTE_PRIME), -1, 1 << 64))
# ASCII letters and digits are word bytes, other ASCII bytes separate words; bytes of non-ASCII
# characters are word bytes, except those of the General Punctuation block (’ “ ” — …).
_SEPARATOR = np.array([not (c < 128 and chr(c).isalnum()) and c < 128 for c in range(256)], dtype=bool)
_POWERS: list[tuple[np.ndarray, np.ndarray]] = [(np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))]


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^k and P^-k modulo 2^64 for k < n (cached, grown by doubling; both arrays replaced together)."""
    powers = _POWERS[0]
    if len(powers[0]) < n:
        size = max(n, 2 * len(powers[0]))
        grown = []
        for base in (_BYTE_PRIME, _BYTE_PRIME_INV):
            steps = np.full(size, base, dtype=np.uint64)
            steps[0] = 1
            grown.append(np.cumprod(steps, dtype=np.uint64))
        powers = _POWERS[0] = (grown[0], grown[1])
    return powers


def spaced_word_hashes(text: str) -> np.ndarray:
    """A 64-bit polynomial hash of every word of a text in a spaced script, in one NumPy pass.

    The word of bytes s..e hashes to sum(b[k] * P^(e-1-k)), read off prefix sums of
    b[k] * P^-k (arithmetic modulo 2^64): about 4x faster than a regex plus a hash per
    word in Python, which was the largest cost of near-duplicate detection. Apostrophes
    and periods split words here (don|t, u|s): the same everywhere, so similarities hold.
    """
    return _spaced_words(text)[0]


def spaced_words_trivial(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`spaced_word_hashes`, per word whether it says little on its own (a single character or only
    digits: an n-gram of such words is "1 2 3 ... 10", which any counting page contains), and the byte
    offset where each word starts in the UTF-8 text."""
    hashes, data, starts, ends = _spaced_words(text)
    if not len(hashes):
        return hashes, np.empty(0, dtype=bool), starts
    digits = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum((data >= 48) & (data <= 57), out=digits[1:])
    length = ends - starts
    return hashes, (length == 1) | (digits[ends] - digits[starts] == length), starts


def _spaced_words(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    n = len(data)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.uint64), data, empty, empty
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
        return powers[ends - 1] * (prefix[ends] - prefix[starts]), data, starts, ends


def token_hashes(tokens: list[str]) -> np.ndarray:
    """Stable 32-bit xxHash of each token, through a process-wide cache (a dict lookup is 5x cheaper)."""
    table = _TOKEN_HASHES[0]
    missing = set(tokens).difference(table)  # set operations run in C; a Python loop per token would not
    if missing:
        if len(table) + len(missing) > MAX_CACHED_TOKENS:
            table = _TOKEN_HASHES[0] = {}  # a new table: another thread may still be reading the old one
            missing = set(tokens)
        for token in missing:
            table[token] = xxhash.xxh32_intdigest(token.encode("utf-8"))
    return np.array(list(map(table.__getitem__, tokens)), dtype=np.uint32)


def char_hashes(text: str) -> np.ndarray:
    """A hash per character (code point), for character n-grams."""
    return fmix32(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32))
