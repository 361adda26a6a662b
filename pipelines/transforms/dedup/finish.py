"""The last dedup step of one output shard: read its documents back from the spill files, apply the
URL, exact and near-duplicate verdicts, write the documents (and index) shard, and file a removal per
duplicate. The documents stay an Arrow table throughout: only ids and cluster columns become Python."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusmill.pipelines.io.shards import ROWS_PER_ROW_GROUP, row_group_pieces
from corpusmill.pipelines.transforms.dedup.common import EXACT_FILTER, NEAR_FILTER, STAGE, URL_FILTER, unpack
from corpusmill.pipelines.transforms.dedup.spilled_documents import BANDS, FINGERPRINTED, SIGNATURE, read_documents
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.pipelines.transforms.write import OutputSpec, write_arrow_shard
from corpusmill.schemas.records import ErrorRecord, Removal


def index_table(table: str) -> str:
    """The index table written beside a documents table: `index`, or `<table>_index` for another one."""
    return "index" if table == "documents" else f"{table}_index"


def _input_order(docs: pa.Table) -> np.ndarray:
    """Row numbers by id, then where each copy was read: every copy of an id is in this shard (shards are by
    id), and the first in input order is the document."""
    keys = pa.table({"id": docs["id"], "file": docs["input_file"], "offset": pc.fill_null(docs["input_offset"], 0)})
    return pc.sort_indices(keys, [("id", "ascending"), ("file", "ascending"), ("offset", "ascending")]).to_numpy()


def _kept_pieces(docs: pa.Table, rows: np.ndarray, clusters: dict[str, list]) -> Iterator[pa.Table]:
    """The kept documents (`rows` of `docs`, in written order) with their cluster columns, a row group at a
    time: taking them all at once held a second copy of the shard's documents."""
    for start in range(0, len(rows), ROWS_PER_ROW_GROUP):
        piece = docs.take(rows[start:start + ROWS_PER_ROW_GROUP])
        for name, values in clusters.items():
            column = pa.array(values[start:start + ROWS_PER_ROW_GROUP], docs.schema.field(name).type)
            piece = piece.set_column(piece.schema.get_field_index(name), name, column)
        yield piece


def _where(row: dict) -> str:
    return row["input_file"] + (f" record {row['input_offset']}" if row["input_offset"] is not None else "")


class FinishShardFn(beam.DoFn):
    """One output shard: apply the verdicts, write its documents (and index) shard, and emit a removal per
    duplicate and an error per repeated id."""

    def __init__(self, output: OutputSpec, write_index: bool, table: str = "documents", index_table: str = "index"):
        self.output = output
        self.write_index = write_index
        self.table, self.index_table = table, index_table

    def process(self, keyed: tuple[int, dict]) -> Iterator:
        shard, groups = keyed
        docs = read_documents(groups["docs"])
        if docs is None:
            return
        # the small columns are put in order here; the documents are taken once, at the end, kept ones only
        order = _input_order(docs)
        small = docs.select(["id", "input_file", "input_offset", "url", "cluster_id", "cluster_size"]).take(order)
        assignments = dict(unpack(groups["assignments"]))
        exact = dict(unpack(groups.get("exact", ())))
        url = dict(unpack(groups.get("url", ())))
        ids = small["id"].to_pylist()
        cluster_ids, sizes = small["cluster_id"].to_pylist(), small["cluster_size"].to_pylist()
        keep = np.ones(len(ids), dtype=bool)
        removals, repeated = [], []  # (row, removal fields), (row, row of the first copy)
        first = -1
        for i, doc_id in enumerate(ids):
            if i and doc_id == ids[i - 1]:
                keep[i] = False
                repeated.append((i, first))
                continue
            first = i
            by_url = url.get(doc_id)
            if by_url is not None and by_url.survivor_id is not None:
                keep[i] = False
                removals.append((i, (URL_FILTER, "duplicate_url", {"dedup.group_size": float(by_url.group_size)},
                                     by_url.survivor_id)))
                continue
            if by_url is not None:  # the survivor of a URL group stands for all of it
                cluster_ids[i], sizes[i] = doc_id, by_url.group_size
            verdict, assignment = exact.get(doc_id), assignments.get(doc_id)
            if verdict is not None and verdict.survivor_id is not None:
                keep[i] = False
                removals.append((i, (EXACT_FILTER, "exact_duplicate", {"dedup.group_size": float(verdict.group_size)},
                                     verdict.survivor_id)))
                continue
            if verdict is not None:  # the survivor of exact copies stands for all of them
                cluster_ids[i], sizes[i] = doc_id, verdict.group_size
            earlier = assignment is not None and assignment.survivor.earlier == 0
            if assignment is not None and (earlier or assignment.survivor.id != doc_id):
                keep[i] = False
                removals.append((i, (NEAR_FILTER, "near_duplicate", {
                    "dedup.cluster_size": float(assignment.cluster_size), "dedup.earlier_build": float(earlier)},
                    assignment.survivor.id)))
                continue
            if assignment is not None:
                cluster_ids[i], sizes[i] = assignment.cluster_id, assignment.cluster_size
            else:
                cluster_ids[i], sizes[i] = cluster_ids[i] or doc_id, sizes[i] or 1
        yield from self._removals(small, removals)
        yield from self._repeated(small, repeated)
        rows = order[keep]
        clusters = {name: [v for v, k in zip(values, keep, strict=True) if k]
                    for name, values in (("cluster_id", cluster_ids), ("cluster_size", sizes))}
        yield write_arrow_shard(self.output, self.table, shard, _kept_pieces(docs, rows, clusters))
        if self.write_index:
            indexed = docs.select(["id", FINGERPRINTED, BANDS, SIGNATURE]).take(rows)
            indexed = indexed.filter(indexed[FINGERPRINTED])
            index = pa.table({"id": indexed["id"], "bands": indexed[BANDS], "signature": indexed[SIGNATURE]})
            write_arrow_shard(self.output, self.index_table, shard, row_group_pieces(index))

    @staticmethod
    def _removals(docs: pa.Table, removals: list) -> Iterator:
        if not removals:
            return
        rows = docs.select(["id", "input_file", "input_offset", "url"]).take(
            pa.array([i for i, _ in removals], pa.int64())).to_pylist()
        for row, (_, (filter_name, reason, scores, survivor)) in zip(rows, removals, strict=True):
            count(f"{filter_name}/removed.{reason}")
            if scores.get("dedup.earlier_build"):  # the report's "removed against earlier builds"
                count(f"{filter_name}/tag.earlier_build")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                row["id"], STAGE, filter_name, reason, row["input_file"], row["input_offset"], row["url"], scores,
                survivor_id=survivor))

    @staticmethod
    def _repeated(docs: pa.Table, repeated: list[tuple[int, int]]) -> Iterator:
        """An error row per document whose id an earlier document of this build has: ids name documents in
        the index and in later builds, so two documents must never be merged under one."""
        if not repeated:
            return
        stage = f"{STAGE}/{NEAR_FILTER}"
        where = docs.select(["id", "input_file", "input_offset"])
        rows = where.take(pa.array([i for i, _ in repeated], pa.int64())).to_pylist()
        firsts = where.take(pa.array([j for _, j in repeated], pa.int64())).to_pylist()
        for row, first in zip(rows, firsts, strict=True):
            count(f"{stage}/errors")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
                row["input_file"], stage, "RepeatedId",
                f"id {row['id']!r} is already the id of another document of this build ({_where(first)}); "
                "ids must be unique", row["input_offset"], row["id"]))
