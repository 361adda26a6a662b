"""Precision and recall of near-duplicate detection against exact Jaccard ground truth.

The corpus (bench/dedup_corpus.py) has real documents and variants with known edits. The
true Jaccard of every pair of documents sharing a shingle is computed exactly (sparse
matrix product), so the truth set is every pair with J >= threshold, not just the pairs
we made. Reported:

- corpusmill, pairs: the verified pairs (edges) of the pipeline's own functions;
- corpusmill, clusters: every pair of documents that `corpusmill dedup` put in one cluster
  (survivor + removed), which also counts chain pairs whose direct J is below the threshold;
- datasketch MinHashLSH with the same signatures and bands, no verification (for scale).

    .venv/bin/python bench/dedup_quality.py [--threshold 0.8] [--num-perm 128]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dedup_corpus import make_corpus, write_jsonl  # noqa: E402
from corpusmill.filters.dedup.candidates import find_candidates  # noqa: E402
from corpusmill.filters.dedup.keys import Rank  # noqa: E402
from corpusmill.filters.dedup.minhash import ShingleSpec, band_hashes, jaccard, shingles, signatures  # noqa: E402
from corpusmill.schemas.banding import candidate_probability, optimal_bands  # noqa: E402
from corpusmill.schemas.config import MinHashConfig  # noqa: E402

DEFAULT_SHINGLES = ShingleSpec.of(MinHashConfig())  # word 5-grams, lower case


def true_pairs(sets: list[np.ndarray], threshold: float) -> set[tuple[int, int]]:
    """Every pair (i < j) with exact Jaccard >= threshold, by a sparse co-occurrence product."""
    from scipy import sparse

    vocab: dict[int, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for h in s.tolist():
            rows.append(i)
            cols.append(vocab.setdefault(h, len(vocab)))
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(sets), len(vocab)))
    inter = sparse.triu(m @ m.T, k=1).tocoo()
    sizes = np.array([len(s) for s in sets])
    union = sizes[inter.row] + sizes[inter.col] - inter.data
    keep = inter.data >= threshold * union
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True))


def score(found: set, truth: set) -> str:
    tp = len(found & truth)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth) if truth else 1.0
    return f"precision {precision:.4f}  recall {recall:.4f}  (found {len(found)}, true {len(truth)}, hit {tp})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--docs", type=int, default=None, help="default: every base document once")
    args = parser.parse_args()

    docs, where = make_corpus(args.docs)
    print(f"corpus: {len(docs)} documents from {where}")
    spec = DEFAULT_SHINGLES
    sets = [shingles(d["text"], "en", spec) for d in docs]
    truth = true_pairs(sets, args.threshold)
    print(f"ground truth: {len(truth)} pairs with exact Jaccard >= {args.threshold} (5-gram word shingles)")

    cfg = MinHashConfig(threshold=args.threshold, num_perm=args.num_perm)
    sigs = signatures(sets, args.num_perm, 42)
    index = {d["id"]: i for i, d in enumerate(docs)}
    ranks = [Rank(1, 0.0, 0, d["id"]) for d in docs]
    nonempty = [i for i in range(len(docs)) if len(sets[i])]
    # the default banding (chosen for recall at the threshold) and the unconstrained one before it: what the
    # extra candidates cost is their count and the time to verify them
    for bands, rows in dict.fromkeys([(cfg.bands, cfg.rows), optimal_bands(args.threshold, args.num_perm, 0.05, 0.95)]):
        bh = band_hashes(sigs, bands, rows)
        band = np.tile(np.arange(bands, dtype=np.uint16), len(nonempty))
        pairs = find_candidates(band, bh[nonempty].reshape(-1), [ranks[i] for i in nonempty for _ in range(bands)], 50)
        candidates = {tuple(sorted((index[a.id], index[b.id]))) for a, b in pairs}
        started = time.perf_counter()
        verified = {p for p in candidates if jaccard(sets[p[0]], sets[p[1]]) >= args.threshold}
        seconds = time.perf_counter() - started
        default = " (the default)" if (bands, rows) == (cfg.bands, cfg.rows) else ""
        print(f"\nLSH {bands} bands x {rows} rows{default}, {args.num_perm} permutations: finds "
              f"{candidate_probability(args.threshold, bands, rows):.4f} of pairs at exactly {args.threshold}")
        print(f"corpusmill, candidates before verification: {score(candidates, truth)}")
        print(f"corpusmill, verified pairs:                 {score(verified, truth)}  "
              f"(verifying {len(candidates)} candidates: {seconds:.2f} s)")
    bands, rows = cfg.bands, cfg.rows

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        write_jsonl(docs, corpus)
        config = Path(tmp) / "dedup.yaml"
        config.write_text(f"dedup:\n  exact: false\n  minhash:\n    threshold: {args.threshold}\n"
                          f"    num_perm: {args.num_perm}\n")
        out = Path(tmp) / "out"
        subprocess.run([str(Path(sys.executable).parent / "corpusmill"), "dedup", "--config", str(config),
                        "--output", str(out), "--input", str(corpus)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import pyarrow.parquet as pq

        clusters = defaultdict(set)
        for r in pq.read_table(out / "removed").to_pylist():
            clusters[r["survivor_id"]] |= {index[r["id"]], index[r["survivor_id"]]}
    cluster_pairs = {tuple(sorted(p)) for members in clusters.values() for p in itertools.combinations(members, 2)}
    print(f"corpusmill dedup, same-cluster pairs:       {score(cluster_pairs, truth)}")

    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=args.num_perm, params=(bands, rows))
    hashes = []
    for i, sig in enumerate(sigs):
        m = MinHash(num_perm=args.num_perm, seed=42, hashvalues=sig, scheme="affine32")
        hashes.append(m)
        if len(sets[i]):
            lsh.insert(i, m)
    ds_pairs = {tuple(sorted((i, j))) for i in range(len(docs)) if len(sets[i])
                for j in lsh.query(hashes[i]) if j != i}
    print(f"datasketch MinHashLSH, no verification:     {score(ds_pairs, truth)}")


if __name__ == "__main__":
    main()
