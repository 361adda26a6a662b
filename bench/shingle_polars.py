"""Benchmark: word shingling for MinHash, corpusmill's NumPy word hashing against polars' vectorised
string functions (lower case, regex split, hash), on bench/dedup_corpus.py's documents, one core.

Both sides produce the 32-bit hash of every word 5-gram of every document (repeats kept), which is
what the signature pass needs: corpusmill one document at a time (core/ngram_hashes.py, one NumPy
pass over the UTF-8 bytes), polars one batch at a time (`str.to_lowercase`, `str.extract_all`,
`explode`, `hash`, then the same n-gram fold over the flattened word hashes, windows that cross a
document boundary dropped). The word definitions differ slightly (polars' `\\w+` against ASCII
separators), so shingle counts are printed beside the times.

    .venv/bin/python bench/shingle_polars.py [--docs 20000] [--batch 2048]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one core on both sides
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dedup_corpus import make_corpus  # noqa: E402
from corpusmill.core.ngram_hashes import POLY  # noqa: E402
from corpusmill.filters.dedup.minhash import ShingleSpec, shingle_hashes  # noqa: E402
from corpusmill.schemas.config import MinHashConfig  # noqa: E402

N = 5  # word 5-grams, the default


def numpy_side(texts: list[str]) -> int:
    spec = ShingleSpec.of(MinHashConfig())
    return sum(len(shingle_hashes(t, None, spec)) for t in texts)


def polars_side(texts: list[str]) -> int:
    import polars as pl

    words = pl.Series(texts).str.to_lowercase().str.extract_all(r"\w+")
    lengths = words.list.len().fill_null(0).to_numpy().astype(np.int64)
    hashes = words.explode().drop_nulls().hash(seed=0).to_numpy()
    count = len(hashes) - N + 1
    if count <= 0:
        return 0
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(N):
            acc = acc * POLY + hashes[k:k + count]
    # a window starting at word i is whole when i + N <= the end of its document
    ends = np.repeat(np.cumsum(lengths), lengths)[:count]
    whole = np.arange(count) + N <= ends
    folded = (acc[whole] ^ (acc[whole] >> np.uint64(32))).astype(np.uint32)
    return len(folded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2048, help="documents per polars call (the fingerprint batch)")
    args = parser.parse_args()
    docs, where = make_corpus(args.docs)
    texts = [d["text"] for d in docs][: args.docs]
    print(f"{len(texts)} documents from {where}, {sum(map(len, texts)) / len(texts):.0f} characters on average\n")
    results = {}
    for name, run in (("numpy (corpusmill)", lambda: numpy_side(texts)),
                      ("polars", lambda: sum(polars_side(texts[i:i + args.batch])
                                             for i in range(0, len(texts), args.batch)))):
        best, shingles = float("inf"), 0
        for _ in range(3):
            started = time.perf_counter()
            shingles = run()
            best = min(best, time.perf_counter() - started)
        results[name] = best
        print(f"{name:<20}{len(texts) / best:>10.0f} docs/s  {shingles:>12,} shingles  (best of 3)")
    numpy_time, polars_time = results["numpy (corpusmill)"], results["polars"]
    print(f"\nratio polars / numpy: {numpy_time / polars_time:.2f}x (above 1: polars is faster)")


if __name__ == "__main__":
    main()
