"""Dedup on Beam: URL and exact duplicates by GroupByKey; near duplicates by MinHash LSH,
verified candidate pairs and connected components in GroupByKey rounds.

Near-duplicate data flow (every shuffle is keyed by a hash partition, so no step holds
more than one partition of the buckets, the shingles or the graph):

  Fingerprint (batches)  -> band entries by partition --GroupByKey--> FindCandidates -> pairs
                         -> shingles/signatures by partition (the "store")
  pairs + store --CoGroupByKey--> attach first document --CoGroupByKey--> Verify -> edges
  edges --(large-star, small-star) x max_rounds--> Label -> one assignment per clustered document
  documents + assignments + fingerprints --CoGroupByKey by id--> kept / removed / index rows

Cluster labels are the best-ranked member (filters/dedup_keys.Rank), so the label of a
component is also its survivor; every choice depends only on ids, texts and the config.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from filters import components
from filters.dedup_keys import Rank, SurvivorRule, earlier_rank, text_key, url_key
from filters.minhash import ShingleSpec, band_hashes, estimated_jaccard, jaccard, shingles, signatures
from pipelines.shards import shard_name, shard_of, write_rows
from pipelines.transforms import REMOVED, _count
from schemas.config import DedupSettings, MinHashConfig
from schemas.records import Document, Removal

STAGE = "dedup"
URL_FILTER, EXACT_FILTER, NEAR_FILTER = "url_dedup_v1", "exact_dedup_v1", "minhash_dedup_v1"
FINGERPRINT_BATCH = (256, 2048)  # documents per NumPy signature pass (min, max)


def partition_of(doc_id: str, partitions: int) -> int:
    """A stable partition for an id (Python's hash() differs between processes)."""
    return shard_of(doc_id, partitions)


def _chunks_by_partition(items: Iterable[tuple[int, object]]) -> Iterator[tuple[int, bytes]]:
    """Group items by partition into one pickled chunk each.

    One pickle per chunk, because Beam's fallback coder would pickle every object inside a
    list on its own: measured, that was the largest single cost of the near-dup shuffles.
    """
    grouped: dict[int, list] = defaultdict(list)
    for part, item in items:
        grouped[part].append(item)
    for part, group in grouped.items():
        yield part, pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(chunks: Iterable[bytes]) -> Iterator:
    for chunk in chunks:
        yield from pickle.loads(chunk)


# --- exact and URL duplicates --------------------------------------------------------------

class _KeyDocumentFn(beam.DoFn):
    def __init__(self, kind: str):
        self.kind = kind

    def process(self, doc: Document) -> Iterator:
        key = text_key(doc.text) if self.kind == "exact" else url_key(doc.url)
        if key is None:
            yield beam.pvalue.TaggedOutput("unkeyed", doc)
        else:
            yield key, doc


class _KeepBestFn(beam.DoFn):
    def __init__(self, rule: SurvivorRule, filter_name: str, reason: str):
        self.rule, self.filter_name, self.reason = rule, filter_name, reason

    def process(self, keyed: tuple[str, Iterable[Document]]) -> Iterator:
        _, docs = keyed
        ranked = sorted(docs, key=lambda d: self.rule.rank(d))
        survivor = ranked[0]
        size = sum(d.cluster_size or 1 for d in ranked)
        for dup in ranked[1:]:
            _count(f"{self.filter_name}/removed.{self.reason}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                dup.id, STAGE, self.filter_name, self.reason, dup.input_file, dup.input_offset, dup.url,
                {"dedup.group_size": float(size)}, survivor_id=survivor.id))
        yield dataclasses.replace(survivor, cluster_id=survivor.id, cluster_size=size)


class DropDuplicatesByKey(beam.PTransform):
    """Keep one document per exact key (normalised text or URL); the rest go to `removed`."""

    def __init__(self, kind: str, rule: SurvivorRule):
        super().__init__()
        self.kind = kind
        self.rule = rule
        self.filter_name, self.reason = ((EXACT_FILTER, "exact_duplicate") if kind == "exact"
                                         else (URL_FILTER, "duplicate_url"))

    def expand(self, docs):
        keyed = docs | "Key" >> beam.ParDo(_KeyDocumentFn(self.kind)).with_outputs("unkeyed", main="keyed")
        kept = (keyed.keyed | "GroupByKey" >> beam.GroupByKey()
                | "KeepBest" >> beam.ParDo(_KeepBestFn(self.rule, self.filter_name, self.reason)).with_outputs(
                    REMOVED, main="docs"))
        merged = (kept.docs, keyed.unkeyed) | "Merge" >> beam.Flatten()
        return merged, kept[REMOVED]


# --- near duplicates -----------------------------------------------------------------------

@dataclass(frozen=True)
class Fingerprint:
    """What a kept document leaves in the index: its band hashes and signature."""

    bands: np.ndarray
    signature: np.ndarray


@dataclass(frozen=True)
class Assignment:
    """Where a clustered document ended up."""

    cluster_id: str
    cluster_size: int
    survivor: Rank


@dataclass(frozen=True)
class IndexRow:
    """One row of the index table."""

    id: str
    bands: np.ndarray
    signature: np.ndarray

    def to_row(self) -> dict:
        return {"id": self.id, "bands": self.bands.tolist(), "signature": self.signature.tolist()}


class _FingerprintFn(beam.DoFn):
    """A batch of documents -> per-document fingerprints, band entries and store entries by partition."""

    def __init__(self, cfg: MinHashConfig, rule: SurvivorRule, num_shards: int):
        self.cfg = cfg
        self.rule = rule
        self.num_shards = num_shards
        self.spec = ShingleSpec(cfg.shingle, cfg.ngram, cfg.lowercase)

    def process(self, batch: list[Document]) -> Iterator:
        cfg = self.cfg
        sets = [shingles(d.text, d.lang, self.spec) for d in batch]
        sigs = signatures(sets, cfg.num_perm, cfg.seed, cfg.signature_backend)
        bands = band_hashes(sigs, cfg.bands, cfg.rows)
        store_items, ranks, rows, by_shard = [], [], [], []
        for i, doc in enumerate(batch):
            shard = shard_of(doc.id, self.num_shards)
            if not len(sets[i]):
                # no words, nothing to compare: it can only be an exact duplicate
                by_shard.append((shard, (doc, None)))
                continue
            by_shard.append((shard, (doc, Fingerprint(bands[i], sigs[i]))))
            rank = self.rule.rank(doc, doc.cluster_size or 1)
            ranks.append(rank)
            rows.append(i)
            shingle_set = sets[i] if cfg.verify == "jaccard" else None
            store_items.append((partition_of(doc.id, cfg.partitions), (rank, shingle_set, sigs[i])))
        # documents travel in pickled chunks by output shard: one element per shard and batch
        for shard, chunk in _chunks_by_partition(by_shard):
            yield beam.pvalue.TaggedOutput("docs", (shard, chunk))
        _count(f"{NEAR_FILTER}/fingerprinted", len(rows))
        if rows:
            for part, chunk in _band_chunks(bands[rows], ranks, cfg.partitions):
                yield beam.pvalue.TaggedOutput("bands", (part, chunk))
        for part, chunk in _chunks_by_partition(store_items):
            yield beam.pvalue.TaggedOutput("store", (part, chunk))


class _ReadIndexFn(beam.DoFn):
    """Rows of an earlier build's index -> band and store entries ranked before every current document."""

    def __init__(self, partitions: int):
        self.partitions = partitions

    def process(self, path: str) -> Iterator:
        import pyarrow.parquet as pq
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path, compression_type="uncompressed") as f:
            table = pq.read_table(f)
        store_items, ranks, bands = [], [], []
        for row in table.to_pylist():
            rank = earlier_rank(row["id"])
            ranks.append(rank)
            bands.append(row["bands"])
            sig = np.asarray(row["signature"], dtype=np.uint32)
            store_items.append((partition_of(row["id"], self.partitions), (rank, None, sig)))
        _count(f"{NEAR_FILTER}/earlier_documents", table.num_rows)
        if ranks:
            for part, chunk in _band_chunks(np.asarray(bands, dtype=np.uint64), ranks, self.partitions):
                yield beam.pvalue.TaggedOutput("bands", (part, chunk))
        for part, chunk in _chunks_by_partition(store_items):
            yield beam.pvalue.TaggedOutput("store", (part, chunk))


def find_candidates(band: np.ndarray, hashes: np.ndarray, ranks: list[Rank], max_pairwise: int
                    ) -> Iterator[tuple[Rank, Rank]]:
    """Pairs (a, b), a < b, of documents sharing a bucket (same band, same hash); earlier-earlier
    pairs are skipped. Entry i is document ranks[i] in bucket (band[i], hashes[i]).

    Buckets are found by one NumPy sort; only buckets with two or more members reach Python.
    A bucket larger than `max_pairwise` pairs each member with its first `max_pairwise`
    members by rank only: boilerplate pages can fill one bucket with thousands of
    documents, and all pairs of those would be quadratic.
    """
    if len(hashes) < 2:
        return
    order = np.lexsort((hashes, band))
    b_sorted, h_sorted = band[order], hashes[order]
    starts = np.flatnonzero(np.concatenate(([True], (b_sorted[1:] != b_sorted[:-1]) | (h_sorted[1:] != h_sorted[:-1]))))
    ends = np.append(starts[1:], len(order))
    for start, end in zip(starts[ends - starts >= 2].tolist(), ends[ends - starts >= 2].tolist(), strict=True):
        members = sorted({ranks[i] for i in order[start:end].tolist()})
        for i, b in enumerate(members[1:], start=1):
            for a in members[: min(i, max_pairwise)]:
                if a.earlier or b.earlier:
                    yield a, b


def _band_chunks(bands: np.ndarray, ranks: list[Rank], partitions: int) -> Iterator[tuple[int, bytes]]:
    """Band hashes of documents (rows) as one (band numbers, hashes, ranks) chunk per partition."""
    doc_idx, band_idx = np.nonzero(np.ones(bands.shape, dtype=bool))
    hashes = bands[doc_idx, band_idx]
    parts = hashes % np.uint64(partitions)
    order = np.argsort(parts, kind="stable")
    parts_sorted = parts[order]
    bounds = np.flatnonzero(np.concatenate(([True], parts_sorted[1:] != parts_sorted[:-1], [True])))
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        sel = order[start:end]
        chunk = (band_idx[sel].astype(np.uint16), hashes[sel], [ranks[i] for i in doc_idx[sel].tolist()])
        yield int(parts_sorted[start]), pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)


class _FindCandidatesFn(beam.DoFn):
    def __init__(self, cfg: MinHashConfig):
        self.cfg = cfg

    def process(self, keyed: tuple[int, Iterable[bytes]]) -> Iterator:
        _, chunks = keyed
        loaded = [pickle.loads(c) for c in chunks]
        band = np.concatenate([c[0] for c in loaded])
        hashes = np.concatenate([c[1] for c in loaded])
        ranks = [r for c in loaded for r in c[2]]
        pairs = ((partition_of(a.id, self.cfg.partitions), (a, b))
                 for a, b in find_candidates(band, hashes, ranks, self.cfg.max_pairwise_bucket))
        yield from _chunks_by_partition(pairs)


def _store(chunks: Iterable[bytes]) -> dict[str, tuple]:
    """{document id: (shingles or None, signature)} of one partition's store chunks."""
    return {rank.id: (sh, sig) for rank, sh, sig in _unpack(chunks)}


class _AttachFirstFn(beam.DoFn):
    """Partition of a: distinct pairs get a's shingles/signature and move to b's partition."""

    def __init__(self, partitions: int):
        self.partitions = partitions

    def process(self, keyed: tuple[int, dict]) -> Iterator:
        _, groups = keyed
        store = _store(groups["store"])
        pairs = set(_unpack(groups["pairs"]))
        _count(f"{NEAR_FILTER}/candidate_pairs", len(pairs))
        out = ((partition_of(b.id, self.partitions), (a, b, store[a.id])) for a, b in sorted(pairs))
        yield from _chunks_by_partition(out)


class _VerifyFn(beam.DoFn):
    """Partition of b: keep pairs whose similarity reaches the threshold, as edges for both partitions."""

    def __init__(self, cfg: MinHashConfig):
        self.cfg = cfg

    def process(self, keyed: tuple[int, dict]) -> Iterator:
        _, groups = keyed
        store = _store(groups["store"])
        edges = []
        for a, b, (sh_a, sig_a) in _unpack(groups["half"]):
            sh_b, sig_b = store[b.id]
            if self.cfg.verify == "none":
                similar = True
            elif self.cfg.verify == "jaccard" and sh_a is not None and sh_b is not None:
                similar = jaccard(sh_a, sh_b) >= self.cfg.threshold
            else:
                similar = estimated_jaccard(sig_a, sig_b) >= self.cfg.threshold
            if similar:
                edges += [(partition_of(a.id, self.cfg.partitions), (a, b)),
                          (partition_of(b.id, self.cfg.partitions), (b, a))]
        _count(f"{NEAR_FILTER}/verified_pairs", len(edges) // 2)
        yield from _chunks_by_partition(edges)


def _star_step(step):
    def run(keyed: tuple[int, Iterable[list]], partitions: int) -> Iterator:
        _, chunks = keyed
        adj = components.adjacency(_unpack(chunks))
        out = []
        for u, v in step(adj):
            out += [(partition_of(u.id, partitions), (u, v)), (partition_of(v.id, partitions), (v, u))]
        yield from _chunks_by_partition(out)

    return run


_large_star = _star_step(components.large_star)
_small_star = _star_step(components.small_star)


def _label(keyed: tuple[int, Iterable[list]], partitions: int) -> Iterator:
    """Tell each label its members, and each node its own label (to check convergence)."""
    part, chunks = keyed
    adj = components.adjacency(_unpack(chunks))
    out = []
    for u, label in components.labels(adj):
        out.append((part, ("self", u, label)))
        out.append((partition_of(label.id, partitions), ("member", label, u)))
    yield from _chunks_by_partition(out)


def _assign(keyed: tuple[int, Iterable[bytes]], num_shards: int) -> Iterator:
    _, chunks = keyed
    own_label, members = {}, defaultdict(set)
    for kind, a, b in _unpack(chunks):
        if kind == "self":
            own_label[a] = b
        else:
            members[a].add(b)
    out = []
    for label in sorted(members):
        if own_label.get(label, label) != label:
            _count(f"{NEAR_FILTER}/unconverged_components")
        cluster = members[label] | {label}
        size = sum(node.count for node in cluster)
        for node in sorted(cluster):
            if node.earlier:  # documents of earlier builds are not in this build's output
                out.append((shard_of(node.id, num_shards), (node.id, Assignment(label.id, size, label))))
    yield from _chunks_by_partition(out)


class _FinishShardFn(beam.DoFn):
    """One output shard: apply the cluster assignments, write its documents (and index) shard,
    and emit a removal per near duplicate. Writing here spares the documents a second shuffle."""

    def __init__(self, out: str, num_shards: int, compression: str, write_index: bool):
        self.out, self.num_shards, self.compression = out, num_shards, compression
        self.write_index = write_index

    def process(self, keyed: tuple[int, dict]) -> Iterator:
        shard, groups = keyed
        assignments = dict(_unpack(groups["assignments"]))
        kept, index = [], []
        for doc, fingerprint in sorted(_unpack(groups["docs"]), key=lambda pair: pair[0].id):
            assignment = assignments.get(doc.id)
            if assignment is not None and assignment.survivor.id != doc.id:
                earlier = assignment.survivor.earlier == 0
                _count(f"{NEAR_FILTER}/removed.near_duplicate")
                yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                    doc.id, STAGE, NEAR_FILTER, "near_duplicate", doc.input_file, doc.input_offset, doc.url,
                    {"dedup.cluster_size": float(assignment.cluster_size), "dedup.earlier_build": float(earlier)},
                    survivor_id=assignment.survivor.id))
                continue
            if assignment is not None:
                doc = dataclasses.replace(doc, cluster_id=assignment.cluster_id,
                                          cluster_size=assignment.cluster_size)
            else:
                doc = dataclasses.replace(doc, cluster_id=doc.cluster_id or doc.id,
                                          cluster_size=doc.cluster_size or 1)
            kept.append(doc.to_row())
            if self.write_index and fingerprint is not None:
                index.append(IndexRow(doc.id, fingerprint.bands, fingerprint.signature).to_row())
        path = FileSystems.join(self.out, shard_name("documents", shard, self.num_shards))
        write_rows(path, "documents", kept, self.compression)
        if self.write_index:
            index_path = FileSystems.join(self.out, shard_name("index", shard, self.num_shards))
            write_rows(index_path, "index", index, self.compression)
        yield path


@dataclass(frozen=True)
class OutputSpec:
    """Where and how the documents (and index) shards are written."""

    out: str
    num_shards: int
    compression: str


class FindNearDuplicates(beam.PTransform):
    """MinHash LSH near-duplicate removal that also writes the documents and index shards;
    returns the removals."""

    def __init__(self, cfg: MinHashConfig, rule: SurvivorRule, earlier_index_files: list[str],
                 write_index: bool, output: OutputSpec):
        super().__init__()
        self.cfg, self.rule = cfg, rule
        self.earlier_index_files = earlier_index_files
        self.write_index = write_index
        self.output = output

    def expand(self, docs):
        cfg, parts, output = self.cfg, self.cfg.partitions, self.output
        fp = (docs
              | "Batch" >> beam.BatchElements(*FINGERPRINT_BATCH)
              | "Fingerprint" >> beam.ParDo(_FingerprintFn(cfg, self.rule, output.num_shards)).with_outputs(
                  "docs", "bands", "store"))
        bands, store = [fp.bands], [fp.store]
        if self.earlier_index_files:
            earlier = (docs.pipeline | "ListEarlierIndexes" >> beam.Create(self.earlier_index_files)
                       | "ReadEarlierIndex" >> beam.ParDo(_ReadIndexFn(parts)).with_outputs("bands", "store"))
            bands.append(earlier.bands)
            store.append(earlier.store)
        store = store | "FlattenStore" >> beam.Flatten()
        pairs = (bands | "FlattenBands" >> beam.Flatten()
                 | "GroupBuckets" >> beam.GroupByKey()
                 | "FindCandidates" >> beam.ParDo(_FindCandidatesFn(cfg)))
        half = ({"pairs": pairs, "store": store} | "GroupPairsByFirst" >> beam.CoGroupByKey()
                | "AttachFirst" >> beam.ParDo(_AttachFirstFn(parts)))
        edges = ({"half": half, "store": store} | "GroupPairsBySecond" >> beam.CoGroupByKey()
                 | "Verify" >> beam.ParDo(_VerifyFn(cfg)))
        for i in range(cfg.max_rounds):
            edges = (edges
                     | f"LargeStar{i}/Group" >> beam.GroupByKey()
                     | f"LargeStar{i}/Step" >> beam.FlatMap(_large_star, parts)
                     | f"SmallStar{i}/Group" >> beam.GroupByKey()
                     | f"SmallStar{i}/Step" >> beam.FlatMap(_small_star, parts))
        assignments = (edges
                       | "Label/Group" >> beam.GroupByKey() | "Label/Step" >> beam.FlatMap(_label, parts)
                       | "Assign/Group" >> beam.GroupByKey()
                       | "Assign/Step" >> beam.FlatMap(_assign, output.num_shards))
        result = ({"docs": fp.docs, "assignments": assignments}
                  | "JoinByShard" >> beam.CoGroupByKey()
                  | "FinishShards" >> beam.ParDo(_FinishShardFn(
                      output.out, output.num_shards, output.compression, self.write_index)).with_outputs(
                      REMOVED, main="written"))
        return result[REMOVED]


class DedupDocuments(beam.PTransform):
    """URL, exact and near-duplicate removal in that order; returns (docs, removed).

    With MinHash on, the near-duplicate step writes the documents (and index) shards itself
    and `docs` is None; otherwise the caller writes the returned documents.
    """

    def __init__(self, settings: DedupSettings, earlier_index_files: list[str], output: OutputSpec):
        super().__init__()
        self.settings = settings
        self.earlier_index_files = earlier_index_files
        self.output = output

    def expand(self, docs):
        s = self.settings
        rule = SurvivorRule(s.survivor.quality_signal, s.survivor.prefer_longer)
        removed = []
        if s.url:
            docs, dropped = docs | "Dedup/Url" >> DropDuplicatesByKey("url", rule)
            removed.append(dropped)
        if s.exact:
            docs, dropped = docs | "Dedup/Exact" >> DropDuplicatesByKey("exact", rule)
            removed.append(dropped)
        if s.minhash.enabled:
            removed.append(docs | "Dedup/MinHash" >> FindNearDuplicates(
                s.minhash, rule, self.earlier_index_files, s.write_index, self.output))
            docs = None
        return docs, removed


def step_order(settings: DedupSettings) -> list[tuple[str, str]]:
    """(stage, filter) of the dedup steps that remove records, in order."""
    return ([(STAGE, URL_FILTER)] if settings.url else []) + ([(STAGE, EXACT_FILTER)] if settings.exact else []) \
        + ([(STAGE, NEAR_FILTER)] if settings.minhash.enabled else [])

