"""Documents and their fingerprints as Arrow tables in spill files: written by the fingerprint step where
the documents are read, read back by the final write of their output shard, so whole documents never
cross a shuffle in near-duplicate dedup (pipelines/io/spill.py says why)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from corpusmill.pipelines.io.shards import check_struct_fields
from corpusmill.pipelines.io.spill import read_blobs
from corpusmill.schemas.records import Document

# columns beside the table's own: whether the document has a fingerprint, and its band hashes and signature
FINGERPRINTED, BANDS, SIGNATURE = "_fingerprinted", "_bands", "_signature"
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")  # a few % of the CPU time, a third of the bytes


def documents_blob(docs: list[Document], fingerprinted: np.ndarray, bands: np.ndarray, sigs: np.ndarray,
                   schema: pa.Schema) -> bytes:
    """One Arrow IPC stream of `docs` as rows of `schema`, with their fingerprints (rows of `bands` and
    `sigs`, meaningful where `fingerprinted`)."""
    rows = [doc.to_row() for doc in docs]
    check_struct_fields(rows, schema)
    table = pa.Table.from_pylist(rows, schema=schema)
    table = table.append_column(FINGERPRINTED, pa.array(fingerprinted, type=pa.bool_()))
    table = table.append_column(BANDS, pa.FixedSizeListArray.from_arrays(pa.array(bands.ravel()), bands.shape[1]))
    table = table.append_column(SIGNATURE, pa.FixedSizeListArray.from_arrays(pa.array(sigs.ravel()), sigs.shape[1]))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_documents(paths: Iterable[str]) -> pa.Table | None:
    """The documents of an output shard's spill files (None if there are none)."""
    tables = [pa.ipc.open_stream(blob).read_all() for path in sorted(paths) for blob in read_blobs(path)]
    # one chunk per column: taking rows in sorted order from dozens of chunks was 12x slower (measured)
    return pa.concat_tables(tables).combine_chunks() if tables else None
