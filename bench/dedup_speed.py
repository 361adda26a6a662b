"""Benchmark: `corpusmill dedup` against datatrove, rensa and datasketch, side by side, end to end.

Every peer runs as its own process on the same JSONL corpus (bench/dedup_corpus.py, at
least 50,000 documents of a few KB) with 128 permutations, word 5-grams, 16 bands x 8
rows, threshold 0.8, and writes its kept documents. corpusmill runs on Beam's
DirectRunner with one worker per core and verifies candidate pairs by exact Jaccard;
datatrove runs its 4-stage MinHash pipeline with 2 parallel tasks; rensa and datasketch
are single-process LSH with union-find clustering. Prints docs/s, peak RSS, precision and
recall of same-cluster pairs against the exact Jaccard of every pair made from one
original (pairs across different originals share no edits and are assumed dissimilar),
and corpusmill's ratio to each peer.

    .venv/bin/python bench/dedup_speed.py [--docs 50000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dedup_corpus import make_corpus, write_jsonl  # noqa: E402
from corpusmill.filters.dedup.minhash import ShingleSpec, jaccard, shingles  # noqa: E402
from corpusmill.schemas.config import MinHashConfig  # noqa: E402

DEFAULT_SHINGLES = ShingleSpec.of(MinHashConfig())  # word 5-grams, lower case

BIN = Path(sys.executable).parent


def _timed(cmd: list[str], log: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of a command, from GNU time."""
    stats = log.with_suffix(".time")
    with open(log, "w") as out:
        subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(stats), *cmd], check=True, cwd=ROOT, stdout=out,
                       stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds, rss = stats.read_text().split()[-2:]
    return float(seconds), int(rss)


def truth_pairs(docs: list[dict], threshold: float) -> set[tuple[str, str]]:
    groups = defaultdict(list)
    for d in docs:
        groups[d["group"]].append(d)
    spec, out = DEFAULT_SHINGLES, set()
    for members in groups.values():
        sets = {d["id"]: shingles(d["text"], None, spec) for d in members}
        for a, b in itertools.combinations(sorted(sets), 2):
            if jaccard(sets[a], sets[b]) >= threshold:
                out.add((a, b))
    return out


def cluster_pairs(clusters: dict[str, object]) -> set[tuple[str, str]]:
    members = defaultdict(list)
    for doc_id, cluster in clusters.items():
        members[cluster].append(doc_id)
    return {tuple(sorted(p)) for m in members.values() if len(m) > 1 for p in itertools.combinations(m, 2)}


def corpusmill_clusters(out: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    clusters = {r["id"]: r["cluster_id"] for r in pq.read_table(out / "documents").to_pylist()}
    for r in pq.read_table(out / "removed").to_pylist():
        clusters[r["id"]] = r["survivor_id"]
    return clusters


def signature_backends(docs: list[dict], n: int = 5000) -> None:
    """Signatures alone, both interchangeable backends on the same shingles (one core)."""
    import time

    from corpusmill.filters.dedup.minhash import signatures

    sets = [shingles(d["text"], None, DEFAULT_SHINGLES) for d in docs[:n]]
    for backend in ("numpy", "datasketch"):
        started = time.perf_counter()
        signatures(sets, 128, 42, backend)
        print(f"signatures, {backend:<10} backend: {n / (time.perf_counter() - started):>8.0f} docs/s (one core)")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--peers", default="corpusmill,rensa,datasketch,datatrove")
    args = parser.parse_args()
    docs, where = make_corpus(args.docs)
    print(f"corpus: {len(docs)} documents, {sum(len(d['text']) for d in docs) / len(docs):.0f} characters on "
          f"average, from {where}; {os.cpu_count()} cores")
    truth = truth_pairs(docs, 0.8)
    print(f"ground truth: {len(truth)} pairs with exact Jaccard >= 0.8\n")
    signature_backends(docs)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dedup-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        # four files, so every peer can read in parallel (datatrove and Beam split work by file)
        for i in range(4):
            write_jsonl(docs[i::4], corpus / f"part-{i}.jsonl")
        for peer in args.peers.split(","):
            out = work / peer
            if peer == "corpusmill":
                config = work / "dedup.yaml"
                config.write_text("dedup:\n  exact: false\n  minhash: {num_perm: 128, bands: 16, rows: 8}\n")
                seconds, rss = _timed([str(BIN / "corpusmill"), "dedup", "--config", str(config), "--output",
                                       str(out), "--input", str(corpus)], work / f"{peer}.log")
                clusters = corpusmill_clusters(out)
            else:
                seconds, rss = _timed([sys.executable, str(ROOT / "bench/dedup_peers.py"), peer, str(corpus),
                                       str(out)], work / f"{peer}.log")
                clusters = json.loads((out / "clusters.json").read_text())
            found = cluster_pairs(clusters)
            hit = len(found & truth)
            results[peer] = (seconds, rss, hit / len(found) if found else 1.0, hit / len(truth) if truth else 1.0)
    print(f"{'peer':<12}{'seconds':>9}{'docs/s':>9}{'peak RSS MB':>13}{'precision':>11}{'recall':>8}")
    for peer, (seconds, rss, precision, recall) in results.items():
        print(f"{peer:<12}{seconds:>9.1f}{len(docs) / seconds:>9.0f}{rss / 1024:>13.0f}"
              f"{precision:>11.4f}{recall:>8.4f}")
    if "corpusmill" in results:
        print()
        for peer, (seconds, *_rest) in results.items():
            if peer != "corpusmill":
                print(f"ratio corpusmill / {peer}: {seconds / results['corpusmill'][0]:.2f}x")
    print("\n(peak RSS: the largest single process of each run, as GNU time reports it)")


if __name__ == "__main__":
    main()
