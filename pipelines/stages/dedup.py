"""The `dedup` stage: documents in (a curate output, JSONL or Parquet), duplicates removed.

ReadRecords -> ToDocuments -> Dedup/Url -> Dedup/Exact -> Dedup/MinHash
-> WriteDocuments / WriteRemoved / WriteErrors / WriteIndex.
"""

from __future__ import annotations

import argparse

import apache_beam as beam

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.pipelines.io.earlier_builds import earlier_index_files
from corpusmill.pipelines.io.inputs import carried_names
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.io.warc import READER as WARC_READER
from corpusmill.pipelines.io.warc import READER_SCORES
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.dedup.common import DEDUP_SCORES
from corpusmill.pipelines.transforms.dedup.dedup_documents import DedupDocuments
from corpusmill.pipelines.transforms.dedup.dedup_documents import step_order as dedup_steps
from corpusmill.pipelines.transforms.read import ReadRecords
from corpusmill.pipelines.transforms.text import EXTRACT_SCORES, ExtractText
from corpusmill.pipelines.transforms.write import OutputSpec, write_outputs
from corpusmill.schemas.config import DedupConfig, ExtractConfig
from corpusmill.schemas.tables import TableSchemas


def tables(config: DedupConfig) -> list[str]:
    index = config.dedup.minhash.enabled and config.dedup.write_index
    return ["documents", "removed", "errors", *(["index"] if index else [])]


def schemas(config: DedupConfig, formats: dict[str, str]) -> TableSchemas:
    """Signals pass through from the inputs; removals score what dedup (and WARC reading) measure."""
    return TableSchemas("documents", carried_names(formats, "signals"), carried_names(formats, "domain"),
                        tuple(sorted({*READER_SCORES, *EXTRACT_SCORES, *DEDUP_SCORES})))


def step_order(config: DedupConfig) -> list[tuple[str, str]]:
    """Reading files its removals (WARC records it skips) as `warc_reader`, and HTML input is extracted with
    the default extractor before dedup: both are steps of the funnel, as in curate."""
    return [(READ_STAGE, WARC_READER), ("extract", ExtractConfig().extractor)] + dedup_steps(config.dedup)


def build(pipeline: beam.Pipeline, config: DedupConfig, formats: dict[str, str], output: OutputSpec) -> None:
    """Wire the dedup stage into `pipeline`."""
    index_files = earlier_index_files(config.dedup)
    read = (pipeline
            | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadRecords" >> ReadRecords(formats, config.input))
    # JSONL and Parquet records are text already; HTML (WARC input) is extracted with the defaults.
    # No reshuffle here: fingerprints are computed where the files are read (inputs are usually many
    # shards of a curate output), and every document already crosses one shuffle in the join by id.
    docs = read.records | "ToDocuments" >> ExtractText(HtmlExtractor())
    kept, removed, failed = docs.docs | "Dedup" >> DedupDocuments(config.dedup, index_files, output)
    write_outputs(kept, [read.removed, docs.removed, *removed], [read.errors, docs.errors, *failed], output)


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("dedup", build, step_order, tables, schemas)
