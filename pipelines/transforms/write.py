"""WriteTable: records to deterministic, atomically written Parquet shards; and the writers every
stage ends with."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam

from corpusmill.pipelines.io import shards
from corpusmill.schemas.config import OutputConfig


@dataclass(frozen=True)
class OutputSpec:
    """Where and how a step that writes shards itself (dedup's last step) writes them."""

    out: str
    num_shards: int
    compression: str

    @classmethod
    def of(cls, output: OutputConfig, out: str) -> OutputSpec:
        return cls(out, output.num_shards, output.compression)


class _WriteShardFn(beam.DoFn):
    def __init__(self, folder: str, table: str, num_shards: int, compression: str, schema: str | None):
        self.folder = folder
        self.table = table
        self.num_shards = num_shards
        self.compression = compression
        self.schema = schema

    def process(self, keyed: tuple[int, Iterable]) -> Iterator[str]:
        shard, records = keyed
        yield shards.write_shard(self.folder, self.table, shard, self.num_shards, records, self.compression,
                                 self.schema)


class WriteTable(beam.PTransform):
    """Write records as `part-XXXXX-of-NNNNN.parquet` shards with the table's schema.

    Shard = hash(sort key) mod num_shards and rows are sorted inside a shard, so the files
    are byte-for-byte the same on every run and runner. Each shard is written under a
    temporary name and renamed when complete.
    """

    def __init__(self, folder: str, table: str, num_shards: int, compression: str, schema: str | None = None):
        super().__init__()
        self.folder = folder
        self.table = table
        self.num_shards = num_shards
        self.compression = compression
        self.schema = schema

    def expand(self, records):
        return (
            records
            | "AssignShard" >> beam.Map(shards.keyed_by_shard, self.num_shards)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShardFn(self.folder, self.table, self.num_shards,
                                                       self.compression, self.schema))
        )


def write_outputs(docs, removed: list, errors: list, output: OutputConfig, out: str) -> None:
    """The writers every stage ends with; `docs` is None when an earlier step wrote them already."""
    n, compression = output.num_shards, output.compression
    if docs is not None:
        _ = docs | "WriteDocuments" >> WriteTable(out, "documents", n, compression)
    _ = removed | "FlattenRemoved" >> beam.Flatten() | "WriteRemoved" >> WriteTable(out, "removed", n, compression)
    _ = errors | "FlattenErrors" >> beam.Flatten() | "WriteErrors" >> WriteTable(out, "errors", 1, compression)
