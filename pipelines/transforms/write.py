"""Writing a build's tables: deterministic Parquet shards, written atomically, each counted for the
report as it is written (so report figures never need the tables read back), and the SFT samples
also as JSONL shards."""

from __future__ import annotations

import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io import shards
from corpusmill.pipelines.io.spill import SpillingDoFn, spill_folder, spilled_items
from corpusmill.pipelines.transforms.ledger import count_written, count_written_table
from corpusmill.schemas.config import OutputConfig
from corpusmill.schemas.tables import TableSchemas

SFT_JSONL = "sft"  # folder of the SFT samples as JSONL: sft/part-XXXXX-of-NNNNN.jsonl
SPILL_CHUNK_ROWS = 1000  # records pickled together on their way to a shard's writer


@dataclass(frozen=True)
class OutputSpec:
    """Where and how a build writes its tables: folder, shards, compression and table schemas."""

    out: str
    num_shards: int
    compression: str
    schemas: TableSchemas

    @classmethod
    def of(cls, output: OutputConfig, out: str, schemas: TableSchemas, auto_shards: int = 1) -> OutputSpec:
        """`auto_shards`: the shard count `num_shards: auto` stands for (inputs.auto_num_shards)."""
        return cls(out, auto_shards if output.num_shards == "auto" else output.num_shards, output.compression,
                   schemas)

    def shards_of(self, table: str) -> int:
        return 1 if table == "errors" else self.num_shards


def write_table_shard(spec: OutputSpec, table: str, shard: int, rows: list[dict]) -> str:
    """Write one shard of `table` (rows in written order) and count what it holds; returns its path."""
    count_written(table, rows)
    n = spec.shards_of(table)
    final = FileSystems.join(spec.out, shards.shard_name(table, shard, n))
    shards.write_rows(final, rows, spec.schemas.of(table), spec.compression)
    if table == "documents" and spec.schemas.documents == "sft":
        shards.write_jsonl(FileSystems.join(spec.out, shards.shard_name(SFT_JSONL, shard, n, ".jsonl")), rows)
    return final


def write_arrow_shard(spec: OutputSpec, table: str, shard: int, pieces: Iterable[pa.Table]) -> str:
    """`write_table_shard` for rows held as Arrow tables of up to shards.ROWS_PER_ROW_GROUP rows each (in
    written order, with the table's columns), one in memory at a time."""
    if table == "documents" and spec.schemas.documents == "sft":
        rows = [row for piece in pieces for row in piece.select(spec.schemas.of(table).names).to_pylist()]
        return write_table_shard(spec, table, shard, rows)

    def counted() -> Iterator[pa.Table]:
        for piece in pieces:
            count_written_table(table, piece)
            yield piece

    final = FileSystems.join(spec.out, shards.shard_name(table, shard, spec.shards_of(table)))
    shards.write_row_groups(final, counted(), spec.schemas.of(table), spec.compression)
    return final


class _SpillRowsFn(SpillingDoFn):
    """Records -> spill files of pickled chunks by shard: only (shard, path) crosses the shuffle to the
    writer, not the records (pipelines/io/spill.py says why)."""

    SPILLED = ("rows",)

    def __init__(self, spill_root: str, num_shards: int):
        super().__init__(spill_root)
        self.num_shards = num_shards

    def start_bundle(self):
        super().start_bundle()
        self._chunks: dict[int, list] = defaultdict(list)

    def process(self, record) -> Iterator:
        shard, _ = shards.keyed_by_shard(record, self.num_shards)
        chunk = self._chunks[shard]
        chunk.append(record)
        if len(chunk) >= SPILL_CHUNK_ROWS:
            del self._chunks[shard]
            yield from self.spill("rows", shard, pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))

    def last_blobs(self) -> Iterator[tuple[str, int, bytes]]:
        for shard in sorted(self._chunks):
            yield "rows", shard, pickle.dumps(self._chunks[shard], protocol=pickle.HIGHEST_PROTOCOL)


class _WriteShardFn(beam.DoFn):
    def __init__(self, spec: OutputSpec, table: str):
        self.spec = spec
        self.table = table

    def process(self, keyed: tuple[int, Iterable[str]]) -> Iterator[str]:
        shard, paths = keyed
        yield write_table_shard(self.spec, self.table, shard, shards.sorted_rows(spilled_items(paths)))


class WriteTable(beam.PTransform):
    """Write records as `part-XXXXX-of-NNNNN.parquet` shards with the table's schema.

    Shard = hash(sort key) mod num_shards and rows are sorted inside a shard, so the files
    are byte-for-byte the same on every run and runner. Each shard is written under a
    temporary name and renamed when complete. The records reach their shard's writer through
    spill files, so the local runner never holds a table in its memory.
    """

    def __init__(self, spec: OutputSpec, table: str):
        super().__init__()
        self.spec = spec
        self.table = table

    def expand(self, records):
        spill = _SpillRowsFn(spill_folder(self.spec.out, f"write-{self.table}"), self.spec.shards_of(self.table))
        spilled = records | "SpillByShard" >> beam.ParDo(spill).with_outputs(*_SpillRowsFn.SPILLED)
        return (spilled["rows"]
                | "GroupByShard" >> beam.GroupByKey()
                | "WriteShard" >> beam.ParDo(_WriteShardFn(self.spec, self.table)))


def write_outputs(docs, removed: list, errors: list, spec: OutputSpec) -> None:
    """The writers every stage ends with; `docs` is None when an earlier step wrote them already."""
    if docs is not None:
        _ = docs | "WriteDocuments" >> WriteTable(spec, "documents")
    _ = removed | "FlattenRemoved" >> beam.Flatten() | "WriteRemoved" >> WriteTable(spec, "removed")
    _ = errors | "FlattenErrors" >> beam.Flatten() | "WriteErrors" >> WriteTable(spec, "errors")


def _under_one_key(row: dict) -> tuple[int, dict]:
    return 0, row  # one file: every row meets every other under one key


class _WriteJsonlFn(beam.DoFn):
    def __init__(self, path: str, sort_field: str):
        self.path, self.sort_field = path, sort_field

    def process(self, keyed: tuple[int, Iterable[dict]]) -> Iterator[str]:
        _, rows = keyed
        shards.write_jsonl(self.path, sorted(rows, key=lambda r: r[self.sort_field]))
        yield self.path


class WriteJsonl(beam.PTransform):
    """Dict rows as one JSON-lines file at `path`, sorted by `sort_field` (for small summaries)."""

    def __init__(self, path: str, sort_field: str):
        super().__init__()
        self.path, self.sort_field = path, sort_field

    def expand(self, rows):
        return (rows | "KeyAll" >> beam.Map(_under_one_key)
                | "GroupAll" >> beam.GroupByKey()
                | "WriteFile" >> beam.ParDo(_WriteJsonlFn(self.path, self.sort_field)))
