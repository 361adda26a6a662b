"""One dedup peer end to end, run as its own process by bench/dedup_speed.py.

    python bench/dedup_peers.py PEER CORPUS_FOLDER WORKDIR

Each peer reads the JSONL files of the corpus folder, computes 128-permutation MinHash signatures of word
5-gram shingles, finds near duplicates at Jaccard 0.8 with 16 bands x 8 rows, clusters
them, writes the kept documents and writes WORKDIR/clusters.json ({id: cluster}) for the
quality check. Peers: datatrove (its 4-stage MinHash pipeline), rensa, datasketch.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NUM_PERM, BANDS, ROWS, NGRAM, SEED = 128, 16, 8, 5, 42
_WORDS = re.compile(r"\w+")


def _shingles(text: str) -> list[str]:
    words = _WORDS.findall(text.lower())
    if len(words) < NGRAM:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def _read(corpus: Path) -> list[dict]:
    docs = []
    for path in sorted(corpus.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            docs += [json.loads(line) for line in f]
    return docs


def _union_find(n: int, pairs) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def _finish(docs: list[dict], roots: list[int], work: Path) -> None:
    with open(work / "kept.jsonl", "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            if roots[i] == i:
                f.write(json.dumps(d) + "\n")
    (work / "clusters.json").write_text(json.dumps({d["id"]: roots[i] for i, d in enumerate(docs)}))


def run_rensa(corpus: Path, work: Path) -> None:
    from rensa import RMinHash, RMinHashLSH

    docs = _read(corpus)
    lsh = RMinHashLSH(threshold=0.8, num_perm=NUM_PERM, num_bands=BANDS)
    hashes = []
    for i, d in enumerate(docs):
        m = RMinHash(num_perm=NUM_PERM, seed=SEED)
        m.update(_shingles(d["text"]))
        hashes.append(m)
        lsh.insert(i, m)
    pairs = ((i, j) for i, m in enumerate(hashes) for j in lsh.query(m) if j != i)
    _finish(docs, _union_find(len(docs), pairs), work)


def run_datasketch(corpus: Path, work: Path) -> None:
    from datasketch import MinHash, MinHashLSH

    docs = _read(corpus)
    hashes = MinHash.bulk([[s.encode("utf-8") for s in _shingles(d["text"])] for d in docs],
                          num_perm=NUM_PERM, seed=SEED)
    lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))
    for i, m in enumerate(hashes):
        lsh.insert(i, m)
    pairs = ((i, j) for i, m in enumerate(hashes) for j in lsh.query(m) if j != i)
    _finish(docs, _union_find(len(docs), pairs), work)


def run_datatrove(corpus: Path, work: Path) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS, seed=SEED)
    reader = JsonlReader(str(corpus), glob_pattern="*.jsonl")
    logs, tasks = str(work / "logs"), 2
    LocalPipelineExecutor([reader, MinhashDedupSignature(str(work / "sigs"), config=config)],
                          tasks=tasks, workers=tasks, logging_dir=f"{logs}/1").run()
    LocalPipelineExecutor([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)],
                          tasks=BANDS, workers=tasks, logging_dir=f"{logs}/2").run()
    LocalPipelineExecutor([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config,
                                               save_cluster_id=True)],
                          tasks=1, logging_dir=f"{logs}/3").run()
    LocalPipelineExecutor([reader, MinhashDedupFilter(str(work / "remove"), load_cluster_ids=True,
                                                      exclusion_writer=JsonlWriter(str(work / "removed"))),
                           JsonlWriter(str(work / "kept"))], tasks=tasks, workers=tasks,
                          logging_dir=f"{logs}/4").run()
    import gzip

    clusters = {}
    for folder in ("kept", "removed"):
        for path in sorted((work / folder).glob("*.jsonl.gz")):
            for line in gzip.open(path, "rt"):
                d = json.loads(line)
                cluster = d.get("metadata", {}).get("minhash_cluster_id", -1)
                clusters[d["id"]] = f"c{cluster}" if cluster != -1 else f"d{d['id']}"
    (work / "clusters.json").write_text(json.dumps(clusters))


if __name__ == "__main__":
    peer, corpus, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    {"rensa": run_rensa, "datasketch": run_datasketch, "datatrove": run_datatrove}[peer](corpus, work)
