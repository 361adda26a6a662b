"""The last dedup step of one output shard: apply cluster assignments, write the documents (and index)
shard, and file a removal per near duplicate."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
import numpy as np

from corpusmill.pipelines.transforms.dedup.common import EXACT_FILTER, NEAR_FILTER, STAGE, unpack
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.pipelines.transforms.write import OutputSpec, write_table_shard
from corpusmill.schemas.records import Document, ErrorRecord, Removal


@dataclass(frozen=True)
class IndexRow:
    """One row of the index table."""

    id: str
    bands: np.ndarray
    signature: np.ndarray

    def to_row(self) -> dict:
        return {"id": self.id, "bands": self.bands.tolist(), "signature": self.signature.tolist()}


def index_table(table: str) -> str:
    """The index table written beside a documents table: `index`, or `<table>_index` for another one."""
    return "index" if table == "documents" else f"{table}_index"


def _input_order(doc: Document) -> tuple[str, str, int]:
    return doc.id, doc.input_file, doc.input_offset or 0


def _repeated_id(doc: Document, first: Document) -> beam.pvalue.TaggedOutput:
    """An error row for a document whose id an earlier document of this build has: ids name documents in
    the index and in later builds, so two documents must never be merged under one."""
    stage = f"{STAGE}/{NEAR_FILTER}"
    count(f"{stage}/errors")
    where = f"{first.input_file}" + (f" record {first.input_offset}" if first.input_offset is not None else "")
    return beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
        doc.input_file, stage, "RepeatedId",
        f"id {doc.id!r} is already the id of another document of this build ({where}); ids must be unique",
        doc.input_offset, doc.id))


class FinishShardFn(beam.DoFn):
    """One output shard: apply the cluster assignments, write its documents (and index) shard,
    and emit a removal per near duplicate. Writing here spares the documents a second shuffle."""

    def __init__(self, output: OutputSpec, write_index: bool, table: str = "documents", index_table: str = "index"):
        self.output = output
        self.write_index = write_index
        self.table, self.index_table = table, index_table

    def process(self, keyed: tuple[int, dict]) -> Iterator:
        shard, groups = keyed
        assignments = dict(unpack(groups["assignments"]))
        exact = dict(unpack(groups.get("exact", ())))
        kept, index, first = [], [], {}
        # every copy of an id is in this shard (shards are by id); the first in input order is the document
        for doc, fingerprint in sorted(unpack(groups["docs"]), key=lambda pair: _input_order(pair[0])):
            if doc.id in first:
                yield _repeated_id(doc, first[doc.id])
                continue
            first[doc.id] = doc
            verdict = exact.get(doc.id)
            if verdict is not None and verdict.survivor_id is not None:
                count(f"{EXACT_FILTER}/removed.exact_duplicate")
                yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                    doc.id, STAGE, EXACT_FILTER, "exact_duplicate", doc.input_file, doc.input_offset, doc.url,
                    {"dedup.group_size": float(verdict.group_size)}, survivor_id=verdict.survivor_id))
                continue
            if verdict is not None:  # the survivor of exact copies stands for all of them
                doc = dataclasses.replace(doc, cluster_id=doc.id, cluster_size=verdict.group_size)
            assignment = assignments.get(doc.id)
            earlier = assignment is not None and assignment.survivor.earlier == 0
            if assignment is not None and (earlier or assignment.survivor.id != doc.id):
                count(f"{NEAR_FILTER}/removed.near_duplicate")
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
        yield write_table_shard(self.output, self.table, shard, kept)
        if self.write_index:
            write_table_shard(self.output, self.index_table, shard, index)
