"""URL and exact duplicates: one GroupByKey on the normalised URL or text, the best-ranked copy kept; with
MinHash on, URL and exact duplicates by ranks alone (UrlVerdicts, ExactVerdicts), applied where the
documents are written."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam

from corpusmill.filters.dedup.keys import Rank, SurvivorRule, text_key, url_key
from corpusmill.pipelines.io.shards import shard_of
from corpusmill.pipelines.transforms.dedup.common import (
    EXACT_FILTER,
    STAGE,
    URL_FILTER,
    chunks_by_partition,
    partition_of,
)
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
class KeyVerdict:
    """A document's group of one exact key (text or URL): its survivor's id (None for the survivor) and the
    group's size in documents."""

    survivor_id: str | None
    group_size: int


def _key_rank(doc: Document, rule: SurvivorRule, kind: str) -> tuple[str | None, tuple[Rank, int]]:
    key = text_key(doc.text) if kind == "exact" else url_key(doc.url)
    return key, (rule.rank(doc), doc.cluster_size or 1)


class _VerdictsFn(beam.DoFn):
    """One key's members (rank, count) -> a verdict for every member of a group with copies: chunks by output
    shard (the final write) and, with `partitions` (URL groups, which exact and near dedup must see), also by
    id and chunks by partition."""

    def __init__(self, num_shards: int, partitions: int | None = None):
        self.num_shards, self.partitions = num_shards, partitions

    def process(self, keyed: tuple[str, Iterable[tuple[Rank, int]]]) -> Iterator:
        members = sorted(keyed[1])
        if len(members) < 2:
            return
        survivor, size = members[0][0], sum(n for _, n in members)
        verdicts = [(survivor.id, KeyVerdict(None, size))]
        verdicts += [(rank.id, KeyVerdict(survivor.id, size)) for rank, _ in members[1:]]
        yield from chunks_by_partition((shard_of(doc_id, self.num_shards), (doc_id, v)) for doc_id, v in verdicts)
        if self.partitions is not None:
            for item in verdicts:
                yield beam.pvalue.TaggedOutput("by_id", item)
            by_partition = ((partition_of(doc_id, self.partitions), (doc_id, v)) for doc_id, v in verdicts)
            for part, chunk in chunks_by_partition(by_partition):
                yield beam.pvalue.TaggedOutput("by_partition", (part, chunk))


class UrlVerdicts(beam.PTransform):
    """URL duplicates by their ranks alone: (URL key, rank) pairs cross one shuffle and the best rank of each
    URL survives. Returns the verdicts by output shard (main), by id (for exact dedup) and by partition (for
    near dedup): a document removed for its URL takes no further part, and its group's survivor counts for
    the whole group, as when the steps ran one after the other on documents."""

    def __init__(self, rule: SurvivorRule, num_shards: int, partitions: int):
        super().__init__()
        self.rule, self.num_shards, self.partitions = rule, num_shards, partitions

    def expand(self, docs):
        return (docs
                | "KeyRank" >> beam.Map(_key_rank, self.rule, "url")
                | "WithUrl" >> beam.Filter(lambda keyed: keyed[0] is not None)
                | "GroupByUrl" >> beam.GroupByKey()
                | "Verdicts" >> beam.ParDo(_VerdictsFn(self.num_shards, self.partitions)).with_outputs(
                    "by_id", "by_partition", main="by_shard"))


def _url_survivors(joined: tuple[str, dict]) -> Iterator[tuple[str, tuple[Rank, int]]]:
    """A document's (text key, (rank, count)) unless URL dedup removed it; a URL survivor counts its group."""
    _, groups = joined
    verdict = next(iter(groups["url"]), None)
    if verdict is not None and verdict.survivor_id is not None:
        return
    for key, (rank, count_) in groups["doc"]:
        yield key, (rank, count_ if verdict is None else verdict.group_size)


class ExactVerdicts(beam.PTransform):
    """Exact duplicates by their ranks alone: (text hash, rank) pairs cross one shuffle, the best rank of
    each hash survives, and every member of a group with copies gets its verdict, keyed by output shard
    for the final write. Documents stay where they are (grouping whole documents by their text was one
    of the two shuffles of every document). With `url` verdicts (by id), only URL survivors take part."""

    def __init__(self, rule: SurvivorRule, num_shards: int, url=None):
        super().__init__()
        self.rule, self.num_shards, self.url = rule, num_shards, url

    def expand(self, docs):
        keyed = docs | "KeyRank" >> beam.Map(_key_rank, self.rule, "exact")
        if self.url is not None:
            by_id = docs | "KeyRankById" >> beam.Map(lambda doc, rule: (doc.id, _key_rank(doc, rule, "exact")),
                                                     self.rule)
            keyed = ({"doc": by_id, "url": self.url} | "JoinUrlVerdicts" >> beam.CoGroupByKey()
                     | "UrlSurvivors" >> beam.FlatMap(_url_survivors))
        return (keyed
                | "GroupByText" >> beam.GroupByKey()
                | "Verdicts" >> beam.ParDo(_VerdictsFn(self.num_shards)))
