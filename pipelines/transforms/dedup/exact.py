"""URL and exact duplicates: one GroupByKey on the normalised URL or text, the best-ranked copy kept; with
MinHash on, exact duplicates by ranks alone (ExactVerdicts), applied where the documents are written."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam

from corpusmill.filters.dedup.keys import Rank, SurvivorRule, text_key, url_key
from corpusmill.pipelines.io.shards import shard_of
from corpusmill.pipelines.transforms.dedup.common import EXACT_FILTER, STAGE, URL_FILTER, chunks_by_partition
from corpusmill.pipelines.transforms.ledger import REMOVED, count
from corpusmill.schemas.records import Document, Removal


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
            count(f"{self.filter_name}/removed.{self.reason}")
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


@dataclass(frozen=True)
class ExactVerdict:
    """A document's exact-duplicate group: its survivor's id (None for the survivor) and the group's size."""

    survivor_id: str | None
    group_size: int


def _key_rank(doc: Document, rule: SurvivorRule) -> tuple[str, tuple[Rank, int]]:
    return text_key(doc.text), (rule.rank(doc), doc.cluster_size or 1)


def _verdicts(keyed: tuple[str, Iterable[tuple[Rank, int]]], num_shards: int) -> Iterator[tuple[int, bytes]]:
    members = sorted(keyed[1])
    if len(members) < 2:
        return
    survivor, size = members[0][0], sum(n for _, n in members)
    out = [(shard_of(survivor.id, num_shards), (survivor.id, ExactVerdict(None, size)))]
    out += [(shard_of(rank.id, num_shards), (rank.id, ExactVerdict(survivor.id, size))) for rank, _ in members[1:]]
    yield from chunks_by_partition(out)


class ExactVerdicts(beam.PTransform):
    """Exact duplicates by their ranks alone: (text hash, rank) pairs cross one shuffle, the best rank of
    each hash survives, and every member of a group with copies gets its verdict, keyed by output shard
    for the final write. Documents stay where they are (grouping whole documents by their text was one
    of the two shuffles of every document)."""

    def __init__(self, rule: SurvivorRule, num_shards: int):
        super().__init__()
        self.rule, self.num_shards = rule, num_shards

    def expand(self, docs):
        return (docs
                | "KeyRank" >> beam.Map(_key_rank, self.rule)
                | "GroupByText" >> beam.GroupByKey()
                | "Verdicts" >> beam.FlatMap(_verdicts, self.num_shards))
