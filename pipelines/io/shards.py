"""Deterministic Parquet shards: which shard a record goes to, and writing one shard atomically."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from corpusmill.schemas.records import Document

ROWS_PER_ROW_GROUP = 10_000


def shard_name(table: str, shard: int, num_shards: int, suffix: str = ".parquet") -> str:
    return f"{table}/part-{shard:05d}-of-{num_shards:05d}{suffix}"


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


def sorted_rows(records: Iterable) -> list[dict]:
    """The rows of one shard in their written order (by id, then stage, filter and reason)."""
    return [r.to_row() for r in sorted(records, key=_full_key)]


def write_rows(final: str, rows: list[dict], schema: pa.Schema, compression: str = "zstd") -> None:
    """Atomically write `rows` as a Parquet file with `schema`."""
    check_struct_fields(rows, schema)
    write_table(final, pa.Table.from_pylist(rows, schema=schema), schema, compression)


def write_table(final: str, table: pa.Table, schema: pa.Schema, compression: str = "zstd") -> None:
    """Atomically write an Arrow table as a Parquet file with `schema` (its columns, in that order)."""
    write_row_groups(final, row_group_pieces(table), schema, compression)


def row_group_pieces(table: pa.Table) -> Iterable[pa.Table]:
    """`table` in slices of ROWS_PER_ROW_GROUP rows, the pieces `write_row_groups` takes."""
    return (table.slice(start, ROWS_PER_ROW_GROUP) for start in range(0, table.num_rows, ROWS_PER_ROW_GROUP))


def write_row_groups(final: str, pieces: Iterable[pa.Table], schema: pa.Schema, compression: str = "zstd") -> None:
    """Atomically write tables as the consecutive row groups of one Parquet file, one piece in memory at a
    time. Pieces of ROWS_PER_ROW_GROUP rows (the last may be shorter) give the bytes of the whole table
    written at once."""
    codec = None if compression == "none" else compression

    def write(out: BinaryIO) -> None:
        # no pieces, no row group at all: `datasets` reads its batch size off the first row group and fails
        # on an empty one
        with pq.ParquetWriter(out, schema, compression=codec) as writer:
            for piece in pieces:
                # one chunk per column, as a table made from rows has, so the file's bytes never depend on how
                # the rows were gathered
                writer.write_table(piece.select(schema.names).cast(schema).combine_chunks())

    atomically(final, write)


def write_jsonl(final: str, rows: list[dict]) -> None:
    """Atomically write `rows` as JSON lines."""
    atomically(final, lambda out: out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                                             .encode("utf-8")))


def atomically(final: str, write: Callable[[BinaryIO], object]) -> None:
    """Write under a temporary name, then rename into place: a reader never sees half a file."""
    tmp = f"{final}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(tmp) as out:
        write(out)
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([tmp], [final])


def check_struct_fields(rows: list[dict], schema: pa.Schema) -> None:
    """pyarrow drops dict keys a struct has no field for: a signal no step declared would vanish unseen."""
    for field in schema:
        if not pa.types.is_struct(field.type) and not pa.types.is_null(field.type):
            continue
        declared = {f.name for f in field.type} if pa.types.is_struct(field.type) else set()
        for row in rows:
            value = row.get(field.name)
            if isinstance(value, dict) and not value.keys() <= declared:
                raise ValueError(f"column {field.name!r}: {sorted(value.keys() - declared)} measured but not declared "
                                 f"by any step of this stage (declared: {sorted(declared)})")


def _full_key(record) -> tuple:
    # Two removals of one id (say a read-stage and a filter-stage row) still need a total order.
    row_id = sort_key(record)
    return (row_id, getattr(record, "stage", ""), getattr(record, "filter", ""), getattr(record, "reason", ""))
