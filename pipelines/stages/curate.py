"""The `curate` stage: crawl files in, clean documents out, every input record accounted for.

ReadRecords -> ExtractText -> IdentifyLanguage -> Filter/language_v1
-> Filter/<each quality filter> -> Filter/pii_redaction_v1 -> [Dedup/Url, Dedup/Exact, Dedup/MinHash]
-> WriteDocuments (written by Dedup/MinHash, with the index, when it runs),
with every removal and error flattened into WriteRemoved / WriteErrors.
"""

from __future__ import annotations

import argparse

import apache_beam as beam

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.core.language_id import LanguageIdentifier
from corpusmill.filters.base import make_filter
from corpusmill.filters.language import LanguageFilter
from corpusmill.filters.pii import PiiRedaction
from corpusmill.pipelines.io.earlier_builds import earlier_index_files
from corpusmill.pipelines.io.inputs import carried_names
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.io.warc import READER_SCORES
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.dedup.common import DEDUP_SCORES
from corpusmill.pipelines.transforms.dedup.dedup_documents import DedupDocuments
from corpusmill.pipelines.transforms.dedup.dedup_documents import step_order as dedup_steps
from corpusmill.pipelines.transforms.filter import ApplyFilter
from corpusmill.pipelines.transforms.read import ReadRecords
from corpusmill.pipelines.transforms.text import EXTRACT_SCORES, ExtractText, IdentifyLanguage
from corpusmill.pipelines.transforms.write import OutputSpec, write_outputs
from corpusmill.schemas.config import CurateConfig
from corpusmill.schemas.tables import TableSchemas

STAGE = "curate"


def quality_filters(config: CurateConfig) -> list:
    """The language and quality filters in the order they run."""
    steps = []
    if config.langid.enabled:
        steps.append(LanguageFilter(config.langid))
    return steps + [make_filter(spec.name, spec.params) for spec in config.filters]


def step_order(config: CurateConfig) -> list[tuple[str, str]]:
    """(stage, filter) of every step that can remove a record, in pipeline order, for the report."""
    steps = [(READ_STAGE, "warc_reader"), ("extract", config.extract.extractor), ("langid", "fasttext")]
    steps += [(STAGE, f.step) for f in quality_filters(config)]
    steps += [(STAGE, "pii_redaction_v1")] if config.pii else []
    return steps + (dedup_steps(config.dedup) if config.dedup else [])


def tables(config: CurateConfig) -> list[str]:
    index = config.dedup is not None and config.dedup.minhash.enabled and config.dedup.write_index
    return ["documents", "removed", "errors", *(["index"] if index else [])]


def schemas(config: CurateConfig, formats: dict[str, str]) -> TableSchemas:
    """The signals every filter measures (plus those Parquet inputs carry), and every removal's scores."""
    measured = {name for f in (*quality_filters(config), *([PiiRedaction(config.pii)] if config.pii else []))
                for name in f.score_names()}
    scores = {*READER_SCORES, *EXTRACT_SCORES, *measured, *(DEDUP_SCORES if config.dedup else ())}
    return TableSchemas("documents", tuple(sorted(measured | set(carried_names(formats, "signals")))),
                        carried_names(formats, "domain"), tuple(sorted(scores)))


def build(pipeline: beam.Pipeline, config: CurateConfig, formats: dict[str, str], output: OutputSpec) -> None:
    """Wire the curate stage into `pipeline`, reading `formats` (path -> format), writing to `output`."""
    read = (pipeline
            | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadRecords" >> ReadRecords(formats, config.input, config.read))
    removed, errors = [read.removed], [read.errors]

    extractor = HtmlExtractor(config.extract)
    # Everything up to dedup runs where its byte range was read (ReadRecords spreads the ranges over
    # the workers): shuffling documents to balance the work held them all in the local runner's memory.
    extracted = read.records | "ExtractText" >> ExtractText(extractor)
    removed.append(extracted.removed)
    errors.append(extracted.errors)
    docs = extracted.docs

    if config.langid.enabled:
        identified = docs | "IdentifyLanguage" >> IdentifyLanguage(LanguageIdentifier(config.langid.model_path))
        errors.append(identified.errors)
        docs = identified.docs

    for doc_filter in quality_filters(config):
        result = docs | f"Filter/{doc_filter.step}" >> ApplyFilter(doc_filter, STAGE)
        removed.append(result.removed)
        errors.append(result.errors)
        docs = result.docs

    # PII is redacted before dedup, so the duplicates compared are the texts that get published
    # (and dedup can write the documents shards itself).
    if config.pii is not None:
        result = docs | "Filter/pii_redaction_v1" >> ApplyFilter(PiiRedaction(config.pii), STAGE)
        errors.append(result.errors)
        docs = result.docs

    if config.dedup is not None:
        docs, dropped, failed = docs | "Dedup" >> DedupDocuments(config.dedup, earlier_index_files(config.dedup),
                                                                 output)
        removed += dropped
        errors += failed

    write_outputs(docs, removed, errors, output)


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("curate", build, step_order, tables, schemas)
