"""The `curate` stage: crawl files in, clean documents out, every input record accounted for.

ReadRecords -> ExtractText -> SpreadDocuments -> IdentifyLanguage -> Filter/language_v1
-> Filter/<each quality filter> -> Filter/pii_redaction_v1 -> WriteDocuments,
with every removal and error flattened into WriteRemoved / WriteErrors.
"""

from __future__ import annotations

import apache_beam as beam

from filters.base import make_filter
from filters.extract import HtmlExtractor
from filters.langid import LanguageFilter, LanguageIdentifier
from pipelines.readers import STAGE as READ_STAGE
from pipelines.readers import FieldMapping
from pipelines.transforms import (
    ApplyFilter,
    ExtractText,
    IdentifyLanguage,
    ReadRecords,
    WriteTable,
)
from schemas.config import CurateConfig

STAGE = "curate"


def stage_filters(config: CurateConfig) -> list:
    """The document filters in the order they run."""
    steps = []
    if config.langid.enabled:
        steps.append(LanguageFilter(languages=tuple(config.langid.languages), min_score=config.langid.min_score,
                                    min_score_per_lang=dict(config.langid.min_score_per_lang)))
    steps += [make_filter(spec.name, spec.params) for spec in config.filters]
    if config.pii is not None:
        steps.append(make_filter("pii_redaction_v1", config.pii.model_dump()))
    return steps


def step_order(config: CurateConfig) -> list[tuple[str, str]]:
    """(stage, filter) of every step that can remove a record, in pipeline order, for the report."""
    return ([(READ_STAGE, "warc_reader"), ("extract", config.extract.extractor), ("langid", "fasttext")]
            + [(STAGE, f.name) for f in stage_filters(config)])


def build(pipeline: beam.Pipeline, config: CurateConfig, formats: dict[str, str], out: str) -> None:
    """Wire the curate stage into `pipeline`, reading `formats` (path -> format), writing under `out`."""
    fields = FieldMapping(config.input.id_field, config.input.text_field, config.input.url_field,
                          config.input.lang_field)
    read = (pipeline
            | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadRecords" >> ReadRecords(formats, config.input.source, fields, config.read.verify_digests))
    removed, errors = [read.removed], [read.errors]

    extractor = HtmlExtractor(config.extract.extractor, config.extract.timeout_s, config.extract.max_html_bytes)
    # Extraction stays fused with reading, so files are spread over workers and only the
    # extracted text (about 20x smaller than the HTML) is shuffled to balance the filters.
    # Crawl-scale inputs have thousands of files; a single huge local file extracts on one core.
    extracted = read.records | "ExtractText" >> ExtractText(extractor)
    removed.append(extracted.removed)
    errors.append(extracted.errors)
    docs = extracted.docs | "SpreadDocuments" >> beam.Reshuffle()

    if config.langid.enabled:
        identified = docs | "IdentifyLanguage" >> IdentifyLanguage(LanguageIdentifier(config.langid.model_path))
        errors.append(identified.errors)
        docs = identified.docs

    for doc_filter in stage_filters(config):
        result = docs | f"Filter/{doc_filter.name}" >> ApplyFilter(doc_filter, STAGE)
        removed.append(result.removed)
        errors.append(result.errors)
        docs = result.docs

    shards, compression = config.output.num_shards, config.output.compression
    _ = docs | "WriteDocuments" >> WriteTable(out, "documents", shards, compression)
    _ = (removed | "FlattenRemoved" >> beam.Flatten()
         | "WriteRemoved" >> WriteTable(out, "removed", shards, compression))
    _ = errors | "FlattenErrors" >> beam.Flatten() | "WriteErrors" >> WriteTable(out, "errors", 1, compression)
