"""The `dedup` stage: documents in (a curate output, JSONL or Parquet), duplicates removed.

ReadRecords -> ToDocuments -> Dedup/Url -> Dedup/Exact -> Dedup/MinHash
-> WriteDocuments / WriteRemoved / WriteErrors / WriteIndex.
"""

from __future__ import annotations

import argparse

import apache_beam as beam

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.pipelines.io.earlier_builds import earlier_index_files
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.dedup.dedup_documents import DedupDocuments
from corpusmill.pipelines.transforms.dedup.dedup_documents import step_order as dedup_steps
from corpusmill.pipelines.transforms.read import ReadRecords
from corpusmill.pipelines.transforms.text import ExtractText
from corpusmill.pipelines.transforms.write import OutputSpec, write_outputs
from corpusmill.schemas.config import DedupConfig


def tables(config: DedupConfig) -> dict[str, int]:
    n = config.output.num_shards
    index = config.dedup.minhash.enabled and config.dedup.write_index
    return {"documents": n, "removed": n, "errors": 1, **({"index": n} if index else {})}


def step_order(config: DedupConfig) -> list[tuple[str, str]]:
    return [(READ_STAGE, "reader")] + dedup_steps(config.dedup)


def build(pipeline: beam.Pipeline, config: DedupConfig, formats: dict[str, str], out: str) -> None:
    """Wire the dedup stage into `pipeline`."""
    index_files = earlier_index_files(config.dedup)
    read = (pipeline
            | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadRecords" >> ReadRecords(formats, config.input))
    # JSONL and Parquet records are text already; HTML (WARC input) is extracted with the defaults.
    # No reshuffle here: fingerprints are computed where the files are read (inputs are usually many
    # shards of a curate output), and every document already crosses one shuffle in the join by id.
    docs = read.records | "ToDocuments" >> ExtractText(HtmlExtractor())
    kept, removed = docs.docs | "Dedup" >> DedupDocuments(config.dedup, index_files, OutputSpec.of(config.output, out))
    write_outputs(kept, [read.removed, docs.removed, *removed], [read.errors, docs.errors], config.output, out)


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("dedup", build, step_order, tables)
