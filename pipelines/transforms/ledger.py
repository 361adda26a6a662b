"""Accounting shared by every transform: the tagged outputs for removed and failed records, Beam
counters in corpusmill's namespace (read back by the launcher for the report), and the
dead-letter row for a record whose processing raised."""

from __future__ import annotations

import logging
from collections import Counter

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics

from corpusmill.pipelines.io.report import CLUSTER_BINS, LENGTH_BINS, document_keys, written_keys
from corpusmill.schemas.records import Document, ErrorRecord, RawRecord

NAMESPACE = "corpusmill"
REMOVED = "removed"
ERRORS = "errors"

log = logging.getLogger(__name__)


def count(name: str, n: int = 1) -> None:
    Metrics.counter(NAMESPACE, name).inc(n)


def dead_letter(stage: str, element: RawRecord | Document, err: Exception) -> beam.pvalue.TaggedOutput:
    """An error-ledger row for a record whose processing raised, so the build goes on."""
    count(f"{stage}/errors")
    log.warning("%s failed on record %s of %s: %r", stage, element.id, element.input_file, err)
    return beam.pvalue.TaggedOutput(
        ERRORS, ErrorRecord(element.input_file, stage, type(err).__name__, str(err)[:2000],
                            element.input_offset, element.id))


def count_written(table: str, rows: list[dict]) -> None:
    """Counters for the report, per row written: removals by stage, filter and reason; errors by stage
    and class; kept documents by language, length and cluster size. Counted by the writers, so the
    report never reads the tables back (on a crawl-sized build they do not fit the launcher)."""
    counts: Counter = Counter()
    for row in rows:
        for key in written_keys(table, row):
            counts[key] += 1
    for key, n in counts.items():
        count(key, n)


def count_written_table(table: str, arrow: pa.Table) -> None:
    """`count_written` for rows held as an Arrow table: a documents table's languages, lengths and cluster
    sizes are binned off its columns and counted per distinct (language, length, size) bin, so no text
    becomes a Python string and no counter name is made per row."""
    if table not in ("documents", "removed", "repos_removed", "errors"):  # keys that no row's values change
        for key in written_keys(table, {}):
            count(key, arrow.num_rows)
        return
    if table != "documents" or "lang" not in arrow.column_names or "copy" in arrow.column_names:
        count_written(table, arrow.to_pylist())
        return
    lengths = pc.utf8_length(arrow["text"]).to_numpy(zero_copy_only=False)
    length_bins = np.asarray(LENGTH_BINS)[np.maximum(np.searchsorted(LENGTH_BINS, lengths, side="right") - 1, 0)]
    sizes = pc.fill_null(arrow["cluster_size"], 0).to_numpy(zero_copy_only=False)
    size_bins = np.where(sizes > 0, np.asarray(CLUSTER_BINS)[
        np.maximum(np.searchsorted(CLUSTER_BINS, sizes, side="right") - 1, 0)], 0)
    groups = Counter(zip(arrow["lang"].to_pylist(), length_bins.tolist(), size_bins.tolist(), strict=True))
    counts: Counter = Counter()
    for (lang, length, size), n in groups.items():
        for key in document_keys(lang, length, size):
            counts[key] += n
    for key, n in counts.items():
        count(key, n)
