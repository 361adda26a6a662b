"""Dedup on Beam: URL and exact duplicates by GroupByKey; near duplicates by MinHash LSH,
verified candidate pairs and connected components (union-find on one worker, or GroupByKey rounds).

Near-duplicate data flow (every shuffle is keyed by a hash partition, so no step holds
more than one partition of the buckets, the shingles or the graph; documents and shingle sets are
written to spill files where they are read, and only the files' paths are shuffled):

  Fingerprint (batches)  -> spill: band entries by partition --GroupByKey--> FindCandidates -> pairs
                         -> spill: shingles/signatures by partition (the "store")
                         -> spill: documents and fingerprints by output shard
  spill: pairs (to both documents' partitions) + store --CoGroupByKey--> lend shingles
     -> spill: both halves of each pair, by partition --GroupByKey--> Verify -> edges
  edges --one GroupByKey--> union-find                        -> one assignment per clustered document
     (or --(large-star, small-star) x max_rounds--> Label)
  documents + assignments (+ exact verdicts) --CoGroupByKey by output shard--> kept / removed / index rows

Cluster labels are the best-ranked member (filters/dedup/keys.Rank), so the label of a
component is also its survivor; every choice depends only on ids, texts and the config.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from corpusmill.filters.dedup.candidates import find_candidates
from corpusmill.filters.dedup.keys import Rank, RankColumns, SurvivorRule, earlier_rank
from corpusmill.filters.dedup.minhash import (
    ShingleSpec,
    band_hashes,
    estimated_jaccard,
    jaccard,
    shingle_hashes,
    signatures,
)
from corpusmill.pipelines.io.shards import shard_of
from corpusmill.pipelines.io.spill import SpillingDoFn, read_blobs, spill_folder, spilled_items
from corpusmill.pipelines.transforms.dedup.clusters import (
    assign_clusters,
    label_components,
    large_star,
    small_star,
    union_find,
)
from corpusmill.pipelines.transforms.dedup.common import (
    NEAR_FILTER,
    STAGE,
    chunks_by_partition,
    partition_of,
    unpack,
)
from corpusmill.pipelines.transforms.dedup.exact import ExactVerdicts, UrlVerdicts
from corpusmill.pipelines.transforms.dedup.finish import FinishShardFn, index_table
from corpusmill.pipelines.transforms.dedup.spilled_documents import documents_blob
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count, dead_letter
from corpusmill.pipelines.transforms.write import OutputSpec
from corpusmill.schemas.config import MinHashConfig
from corpusmill.schemas.records import Document

FINGERPRINT_BATCH = (256, 2048)  # documents per NumPy signature pass (min, max)


class _FingerprintFn(SpillingDoFn):
    """A batch of documents -> three spills: band entries by partition, the documents with their
    fingerprints by output shard, and the store (rank, shingles, signature) by partition."""

    SPILLED = ("docs", "bands", "store")

    def __init__(self, cfg: MinHashConfig, rule: SurvivorRule, output: OutputSpec, table: str, spill_root: str):
        super().__init__(spill_root)
        self.cfg = cfg
        self.rule = rule
        self.num_shards = output.num_shards
        self.schema = output.schemas.of(table)
        self.spec = ShingleSpec.of(cfg)

    def process(self, batch: list[Document]) -> Iterator:
        cfg = self.cfg
        sets, ranks_of, fingerprinted = [], [], []
        for doc in batch:
            try:
                sets.append(shingle_hashes(doc.text, doc.lang, self.spec))
                ranks_of.append(self.rule.rank(doc, doc.cluster_size or 1))
                fingerprinted.append(doc)
            except Exception as err:  # noqa: BLE001 - dead-letter boundary: one document never fails a build
                del sets[len(ranks_of):]
                yield dead_letter(f"{STAGE}/{NEAR_FILTER}", doc, err)
        batch = fingerprinted
        try:
            sigs, bands = self._fingerprints(sets)
        except Exception:  # noqa: BLE001 - dead-letter boundary: each document alone says which one failed
            keep, alone = [], []
            for i, doc in enumerate(batch):
                try:
                    alone.append(self._fingerprints(sets[i:i + 1]))
                    keep.append(i)
                except Exception as err:  # noqa: BLE001
                    yield dead_letter(f"{STAGE}/{NEAR_FILTER}", doc, err)
            batch, sets, ranks_of = [batch[i] for i in keep], [sets[i] for i in keep], [ranks_of[i] for i in keep]
            sigs = np.concatenate([s for s, _ in alone]) if alone else np.empty((0, cfg.num_perm), np.uint32)
            bands = np.concatenate([b for _, b in alone]) if alone else np.empty((0, cfg.bands), np.uint64)
        has_words = np.fromiter((len(sh) > 0 for sh in sets), dtype=bool, count=len(sets))
        rows = np.flatnonzero(has_words).tolist()  # no words, nothing to compare: only an exact duplicate
        ranks = [ranks_of[i] for i in rows]
        store_items = [(partition_of(batch[i].id, cfg.partitions),
                        (ranks_of[i], sets[i] if cfg.verify == "jaccard" else None, sigs[i])) for i in rows]
        by_shard: dict[int, list[int]] = defaultdict(list)
        for i, doc in enumerate(batch):
            by_shard[shard_of(doc.id, self.num_shards)].append(i)
        for shard, members in sorted(by_shard.items()):
            blob = documents_blob([batch[i] for i in members], has_words[members], bands[members], sigs[members],
                                  self.schema)
            yield from self.spill("docs", shard, blob)
        count(f"{NEAR_FILTER}/fingerprinted", len(rows))
        if rows:
            for part, chunk in _band_chunks(bands[rows], ranks, cfg.partitions):
                yield from self.spill("bands", part, chunk)
        for part, chunk in chunks_by_partition(store_items):
            yield from self.spill("store", part, chunk)

    def _fingerprints(self, sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures, band hashes) of shingle sets, one row each."""
        sigs = signatures(sets, self.cfg.num_perm, self.cfg.seed, self.cfg.signature_backend)
        return sigs, band_hashes(sigs, self.cfg.bands, self.cfg.rows)


class _ReadIndexFn(SpillingDoFn):
    """Rows of an earlier build's index -> band and store spills, ranked before every current document."""

    SPILLED = ("bands", "store")

    def __init__(self, partitions: int, spill_root: str):
        super().__init__(spill_root)
        self.partitions = partitions

    def process(self, path: str) -> Iterator:
        import pyarrow.parquet as pq

        with FileSystems.open(path, compression_type="uncompressed") as f:
            table = pq.read_table(f)
        store_items, ranks, bands = [], [], []
        for row in table.to_pylist():
            rank = earlier_rank(row["id"])
            ranks.append(rank)
            bands.append(row["bands"])
            sig = np.asarray(row["signature"], dtype=np.uint32)
            store_items.append((partition_of(row["id"], self.partitions), (rank, None, sig)))
        count(f"{NEAR_FILTER}/earlier_documents", table.num_rows)
        if ranks:
            for part, chunk in _band_chunks(np.asarray(bands, dtype=np.uint64), ranks, self.partitions):
                yield from self.spill("bands", part, chunk)
        for part, chunk in chunks_by_partition(store_items):
            yield from self.spill("store", part, chunk)


def _band_chunks(bands: np.ndarray, ranks: list[Rank], partitions: int) -> Iterator[tuple[int, bytes]]:
    """Band hashes of documents (rows) as one (band numbers, hashes, ranks) chunk per partition."""
    doc_idx, band_idx = np.nonzero(np.ones(bands.shape, dtype=bool))
    hashes = bands[doc_idx, band_idx]
    parts = hashes % np.uint64(partitions)
    order = np.argsort(parts, kind="stable")
    parts_sorted = parts[order]
    bounds = np.flatnonzero(np.concatenate(([True], parts_sorted[1:] != parts_sorted[:-1], [True])))
    columns = RankColumns.of(ranks)
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        sel = order[start:end]
        chunk = (band_idx[sel].astype(np.uint16), hashes[sel], columns.take(doc_idx[sel]))
        yield int(parts_sorted[start]), pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)


class _FindCandidatesFn(SpillingDoFn):
    """One partition's band entries -> candidate pairs, spilled to the partitions of both their documents."""

    SPILLED = ("pairs",)

    def __init__(self, cfg: MinHashConfig, spill_root: str):
        super().__init__(spill_root)
        self.cfg = cfg

    def process(self, keyed: tuple[int, Iterable[bytes]]) -> Iterator:
        _, paths = keyed
        loaded = [pickle.loads(blob) for path in sorted(paths) for blob in read_blobs(path)]
        band = np.concatenate([c[0] for c in loaded])
        hashes = np.concatenate([c[1] for c in loaded])
        ranks = RankColumns.concat([c[2] for c in loaded])
        parts = self.cfg.partitions
        # each pair goes to the partitions of both its documents, which lend it their shingles
        pairs = ((partition_of(node.id, parts), (side, a, b))
                 for a, b in find_candidates(band, hashes, ranks, self.cfg.max_pairwise_bucket)
                 for side, node in ((0, a), (1, b)))
        for part, chunk in chunks_by_partition(pairs):
            yield from self.spill("pairs", part, chunk)


def node_key(rank: Rank) -> tuple[int, str]:
    """A node of the duplicate graph is a document of one build: an earlier build's copy and this build's
    document under the same id are two nodes (one id alone made a verbatim copy its own survivor)."""
    return rank.earlier, rank.id


def _store(paths: Iterable[str]) -> dict[tuple[int, str], tuple]:
    """{node key: (shingles or None, signature)} of one partition's store spill files."""
    return {node_key(rank): (sh, sig) for rank, sh, sig in spilled_items(paths)}


class _LendShinglesFn(SpillingDoFn):
    """One partition's store and the candidate pairs of its documents: each distinct pair gets the shingles
    (and signature) of its document here, spilled to the partition of the pair's first document, where both
    halves meet. So the store is read once, and only candidates' shingles are written again."""

    SPILLED = ("halves",)

    def __init__(self, partitions: int, spill_root: str):
        super().__init__(spill_root)
        self.partitions = partitions

    def process(self, keyed: tuple[int, dict]) -> Iterator:
        _, groups = keyed
        halves = set(spilled_items(groups["pairs"]))
        if not halves:
            return
        store = _store(groups["store"])
        url = dict(unpack(groups.get("url", ())))
        count(f"{NEAR_FILTER}/candidate_pairs", sum(1 for side, _, _ in halves if side == 0))
        lent: dict = {}  # a document's shingle set, made once however many pairs it is in
        for side, a, b in halves:
            node = (a, b)[side]
            key = node_key(node)
            if key in lent:
                continue
            verdict = url.get(node.id) if node.earlier else None  # URL verdicts are of this build's documents
            if verdict is not None and verdict.survivor_id is not None:
                lent[key] = None  # removed for its URL: its pairs are dropped
                continue
            hashes, sig = store[key]
            lent[key] = (None if hashes is None else np.unique(hashes), sig,
                         None if verdict is None else verdict.group_size)
        out = ((partition_of(a.id, self.partitions), (a, b, side, lent[node_key((a, b)[side])]))
               for side, a, b in sorted(halves) if lent[node_key((a, b)[side])] is not None)
        for part, chunk in chunks_by_partition(out):
            yield from self.spill("halves", part, chunk)


class _VerifyFn(SpillingDoFn):
    """Both halves of each pair: keep pairs whose similarity reaches the threshold, spilled as edges for both
    partitions."""

    SPILLED = ("edges",)

    def __init__(self, cfg: MinHashConfig, spill_root: str):
        super().__init__(spill_root)
        self.cfg = cfg

    def process(self, keyed: tuple[int, Iterable[str]]) -> Iterator:
        _, paths = keyed
        halves: dict = defaultdict(dict)
        for a, b, side, fingerprint in spilled_items(paths):
            halves[(a, b)][side] = fingerprint
        edges = []
        for (a, b), pair in sorted(halves.items()):
            if len(pair) < 2:
                continue  # one of the two was removed for its URL
            (sh_a, sig_a, count_a), (sh_b, sig_b, count_b) = pair[0], pair[1]
            if self.cfg.verify == "none":
                similar = True
            elif self.cfg.verify == "jaccard" and sh_a is not None and sh_b is not None:
                similar = jaccard(sh_a, sh_b) >= self.cfg.threshold
            else:
                similar = estimated_jaccard(sig_a, sig_b) >= self.cfg.threshold
            if similar:
                a, b = _counting(a, count_a), _counting(b, count_b)
                edges += [(partition_of(a.id, self.cfg.partitions), (a, b)),
                          (partition_of(b.id, self.cfg.partitions), (b, a))]
        count(f"{NEAR_FILTER}/verified_pairs", len(edges) // 2)
        for part, chunk in chunks_by_partition(edges):
            yield from self.spill("edges", part, chunk)


def _counting(node: Rank, count_: int | None) -> Rank:
    """A URL group's survivor counts for its group (the same count in every edge of the node)."""
    return node if count_ is None else dataclasses.replace(node, count=count_)


class _StarRounds(beam.PTransform):
    """Connected components in `rounds` large-star / small-star rounds over hash partitions of the graph."""

    def __init__(self, rounds: int, partitions: int, num_shards: int):
        super().__init__()
        self.rounds, self.partitions, self.num_shards = rounds, partitions, num_shards

    def expand(self, edges):
        parts = self.partitions
        for i in range(self.rounds):
            edges = (edges
                     | f"LargeStar{i}/Group" >> beam.GroupByKey()
                     | f"LargeStar{i}/Step" >> beam.FlatMap(large_star, parts)
                     | f"SmallStar{i}/Group" >> beam.GroupByKey()
                     | f"SmallStar{i}/Step" >> beam.FlatMap(small_star, parts))
        return (edges
                | "Label/Group" >> beam.GroupByKey() | "Label/Step" >> beam.FlatMap(label_components, parts)
                | "Assign/Group" >> beam.GroupByKey()
                | "Assign/Step" >> beam.FlatMap(assign_clusters, self.num_shards))


class FindNearDuplicates(beam.PTransform):
    """MinHash LSH near-duplicate removal that also writes the documents (`table`) and index shards;
    returns (removals, errors). With `url` and `exact`, URL and exact duplicates are found by their ranks
    alone here too, and removed in the same final write: a document removed for its URL takes part in
    neither exact nor near dedup, and its URL group's survivor counts for the group."""

    def __init__(self, cfg: MinHashConfig, rule: SurvivorRule, earlier_index_files: list[str],
                 write_index: bool, output: OutputSpec, table: str = "documents", exact: bool = False,
                 url: bool = False):
        super().__init__()
        self.cfg, self.rule, self.exact, self.url = cfg, rule, exact, url
        self.earlier_index_files = earlier_index_files
        self.write_index = write_index
        self.output = output
        self.table = table

    def expand(self, docs):
        cfg, parts, output = self.cfg, self.cfg.partitions, self.output
        spill_root = spill_folder(output.out, f"{self.table}-minhash")
        fp = (docs
              | "Batch" >> beam.BatchElements(*FINGERPRINT_BATCH)
              | "Fingerprint" >> beam.ParDo(_FingerprintFn(cfg, self.rule, output, self.table, spill_root))
              .with_outputs("docs", "bands", "store", ERRORS))
        bands, store = [fp.bands], [fp.store]
        if self.earlier_index_files:
            earlier = (docs.pipeline | "ListEarlierIndexes" >> beam.Create(self.earlier_index_files)
                       | "ReadEarlierIndex" >> beam.ParDo(_ReadIndexFn(parts, spill_root))
                       .with_outputs("bands", "store"))
            bands.append(earlier.bands)
            store.append(earlier.store)
        store = store | "FlattenStore" >> beam.Flatten()
        pairs = (bands | "FlattenBands" >> beam.Flatten()
                 | "GroupBuckets" >> beam.GroupByKey()
                 | "FindCandidates" >> beam.ParDo(_FindCandidatesFn(cfg, spill_root)).with_outputs("pairs")).pairs
        url = docs | "Url" >> UrlVerdicts(self.rule, output.num_shards, parts) if self.url else None
        lending = {"pairs": pairs, "store": store, **({"url": url.by_partition} if url else {})}
        halves = (lending | "GroupPairsWithShingles" >> beam.CoGroupByKey()
                  | "LendShingles" >> beam.ParDo(_LendShinglesFn(parts, spill_root)).with_outputs("halves")).halves
        edges = (halves | "GroupPairHalves" >> beam.GroupByKey()
                 | "Verify" >> beam.ParDo(_VerifyFn(cfg, spill_root)).with_outputs("edges")).edges
        if cfg.components == "union_find":
            assignments = (edges
                           | "UnionFind/OneGroup" >> beam.Map(lambda spilled: (0, spilled))
                           | "UnionFind/Group" >> beam.GroupByKey()
                           | "UnionFind/Step" >> beam.FlatMap(union_find, output.num_shards, cfg.max_local_edges,
                                                              parts, spill_root))
        else:
            assignments = (edges
                           | "ReadEdges" >> beam.FlatMap(lambda spilled: ((spilled[0], bytes(blob))
                                                                          for blob in read_blobs(spilled[1])))
                           | "Components" >> _StarRounds(cfg.max_rounds, parts, output.num_shards))
        joined = {"docs": fp.docs, "assignments": assignments, **({"url": url.by_shard} if url else {})}
        if self.exact:
            joined["exact"] = docs | "Exact" >> ExactVerdicts(self.rule, output.num_shards,
                                                              url.by_id if url else None)
        result = (joined
                  | "JoinByShard" >> beam.CoGroupByKey()
                  | "FinishShards" >> beam.ParDo(FinishShardFn(
                      output, self.write_index, self.table, index_table(self.table))).with_outputs(
                      REMOVED, ERRORS, main="written"))
        errors = (fp[ERRORS], result[ERRORS]) | "MergeErrors" >> beam.Flatten()
        return result[REMOVED], errors
