"""Deterministic Parquet shards: which shard a record goes to, and writing one shard atomically."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from corpusmill.schemas.records import Document
from corpusmill.schemas.tables import SCHEMAS

ROWS_PER_ROW_GROUP = 10_000


def shard_name(table: str, shard: int, num_shards: int) -> str:
    return f"{table}/part-{shard:05d}-of-{num_shards:05d}.parquet"


def sort_key(record) -> str:
    """Documents and removals sort by id (then stage and filter); errors by file and offset."""
    if isinstance(record, Document):
        return record.id
    return record.sort_key


def shard_of(key: str, num_shards: int) -> int:
    """The shard (or partition) of a key: a stable hash, the same in every process and on every run."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % num_shards


def keyed_by_shard(record, num_shards: int) -> tuple[int, object]:
    """(shard index, record): a function of the record's key only, never of arrival order."""
    return shard_of(sort_key(record), num_shards), record


def write_shard(folder: str, table: str, shard: int, num_shards: int, records: Iterable,
                compression: str = "zstd", schema: str | None = None) -> str:
    """Write one shard under a temporary name, then rename it into place; returns the final path."""
    rows = [r.to_row() for r in sorted(records, key=_full_key)]
    final = FileSystems.join(folder, shard_name(table, shard, num_shards))
    write_rows(final, table, rows, compression, schema)
    return final


def write_rows(final: str, table: str, rows: list[dict], compression: str = "zstd", schema: str | None = None
               ) -> None:
    """Atomically write `rows` as a Parquet file with the schema named `schema` (default: the table's)."""
    arrow = pa.Table.from_pylist(rows, schema=SCHEMAS[schema or table])
    tmp = f"{final}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(tmp) as out:
        pq.write_table(arrow, out, compression=None if compression == "none" else compression,
                       row_group_size=ROWS_PER_ROW_GROUP)
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([tmp], [final])


def _full_key(record) -> tuple:
    # Two removals of one id (say a read-stage and a filter-stage row) still need a total order.
    row_id = sort_key(record)
    return (row_id, getattr(record, "stage", ""), getattr(record, "filter", ""), getattr(record, "reason", ""))
