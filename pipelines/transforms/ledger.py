"""Accounting shared by every transform: the tagged outputs for removed and failed records, Beam
counters in corpusmill's namespace (read back by the launcher for the report), and the
dead-letter row for a record whose processing raised."""

from __future__ import annotations

import logging
from collections import Counter

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics

from corpusmill.pipelines.io.report import document_keys, written_keys
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
    sizes are read off its columns, without making a Python string of every text."""
    if table != "documents" or "lang" not in arrow.column_names or "copy" in arrow.column_names:
        count_written(table, arrow.to_pylist())
        return
    lengths = pc.utf8_length(arrow["text"]).to_pylist()
    counts = Counter(key for lang, length, size in zip(arrow["lang"].to_pylist(), lengths,
                                                       arrow["cluster_size"].to_pylist(), strict=True)
                     for key in document_keys(lang, length, size))
    for key, n in counts.items():
        count(key, n)
