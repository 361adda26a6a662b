"""One iteration of `corpusmill recall` (pipelines/recall_loop.py): the pool scored by the
iteration's classifier.

ReadRecords -> ToDocuments -> Score -> WriteDocuments (recalled pages, with domain.<label>) /
WriteRemoved (the rest, with their score) / WriteErrors, and CountHosts -> hosts.jsonl (pages and
recalled pages per web host, with a few recalled URLs).
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.core.text_classifier import classifier_from_card
from corpusmill.pipelines.io.inputs import carried_names
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.io.warc import READER_SCORES
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.ledger import REMOVED
from corpusmill.pipelines.transforms.read import ReadRecords
from corpusmill.pipelines.transforms.recall import STAGE, HostStats, ScoreFn, host_row
from corpusmill.pipelines.transforms.text import EXTRACT_SCORES, ExtractText
from corpusmill.pipelines.transforms.write import OutputSpec, WriteJsonl, write_outputs
from corpusmill.schemas.config import PoolScoreConfig
from corpusmill.schemas.tables import TableSchemas

HOSTS = "hosts.jsonl"
SAMPLE_URLS = 5


def build(pipeline: beam.Pipeline, config: PoolScoreConfig, formats: dict[str, str], output: OutputSpec) -> None:
    classifier, _ = classifier_from_card(config.model)
    read = (pipeline | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadRecords" >> ReadRecords(formats, config.input))
    docs = read.records | "ToDocuments" >> ExtractText(HtmlExtractor())
    scored = docs.docs | "Score" >> beam.ParDo(ScoreFn(classifier, config.label, config.min_score)).with_outputs(
        REMOVED, "hosts", main="recalled")
    _ = (scored.hosts | "CountHosts" >> beam.CombinePerKey(HostStats(SAMPLE_URLS))
         | "HostRows" >> beam.Map(host_row)
         | "WriteHosts" >> WriteJsonl(FileSystems.join(output.out, HOSTS), "host"))
    write_outputs(scored.recalled, [read.removed, docs.removed, scored[REMOVED]], [read.errors, docs.errors], output)


def tables(config: PoolScoreConfig) -> list[str]:
    return ["documents", "removed", "errors"]


def schemas(config: PoolScoreConfig, formats: dict[str, str]) -> TableSchemas:
    score = f"domain.{config.label}"
    signals = tuple(sorted({*carried_names(formats, "signals"), score}))
    return TableSchemas("documents", signals, carried_names(formats, "domain"),
                        tuple(sorted({*READER_SCORES, *EXTRACT_SCORES, score})))


def step_order(config: PoolScoreConfig) -> list[tuple[str, str]]:
    return [(READ_STAGE, "warc_reader"), ("extract", "trafilatura"), (STAGE, f"domain_classifier.{config.label}")]


def spec(args=None) -> StageSpec:
    return StageSpec("recall", build, step_order, tables, schemas)
