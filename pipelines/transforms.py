"""The PTransforms every stage is wired from: read records, extract text, identify language,
apply any filter, write sharded Parquet tables. Logic lives in filters/ and pipelines/readers.py;
these only adapt it to Beam (tagged outputs, metrics, setup/teardown, dead letters)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from tqdm import tqdm

from filters.base import Filter
from filters.extract import HtmlExtractor
from filters.langid import LanguageIdentifier
from pipelines import readers, shards
from schemas.records import Document, ErrorRecord, RawRecord, Removal

NAMESPACE = "corpusmill"
REMOVED = "removed"
ERRORS = "errors"

log = logging.getLogger(__name__)


def _count(name: str, n: int = 1) -> None:
    Metrics.counter(NAMESPACE, name).inc(n)


def _dead_letter(stage: str, element: RawRecord | Document, err: Exception) -> beam.pvalue.TaggedOutput:
    """An error-ledger row for a record whose processing raised, so the build goes on."""
    _count(f"{stage}/errors")
    log.warning("%s failed on record %s of %s: %r", stage, element.id, element.input_file, err)
    return beam.pvalue.TaggedOutput(
        ERRORS, ErrorRecord(element.input_file, stage, type(err).__name__, str(err)[:2000],
                            element.input_offset, element.id))


class _ReadFileFn(beam.DoFn):
    def __init__(self, formats: dict[str, readers.InputFormat], source: str | None,
                 fields: readers.FieldMapping, verify_digests: bool):
        self.formats = formats
        self.source = source
        self.fields = fields
        self.verify_digests = verify_digests

    def process(self, path: str) -> Iterator:
        fmt = self.formats[path]
        source = self.source or fmt
        n = 0

        def open_stream():
            return FileSystems.open(path, compression_type="uncompressed")

        # A bar per file on an interactive terminal (tqdm disables itself on logs and pipes).
        progress = tqdm(desc=path.rsplit("/", 1)[-1], unit=" records", disable=None, mininterval=2, leave=False)
        try:
            for event in readers.read_records(path, fmt, open_stream, source, self.fields, self.verify_digests):
                progress.update()
                if event.skipped_kind is not None:
                    _count(f"read/skipped.{event.skipped_kind}")
                    continue
                n += 1
                _count("read/inputs")
                if event.record is not None:
                    yield event.record
                elif event.removal is not None:
                    _count(f"read/removed.{event.removal.reason}")
                    yield beam.pvalue.TaggedOutput(REMOVED, event.removal)
                else:
                    _count("read/errors")
                    yield beam.pvalue.TaggedOutput(ERRORS, event.error)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary: a bad file must not stop the build
            n += 1
            _count("read/inputs")
            _count("read/errors")
            yield beam.pvalue.TaggedOutput(
                ERRORS, ErrorRecord(path, readers.STAGE, type(err).__name__, f"file failed after {n - 1} "
                                    f"records: {err}"[:2000]))
        progress.close()
        _count("read/files")
        log.info("read %s: %d records", path, n)


class ReadRecords(beam.PTransform):
    """Paths in; RawRecords on the main output, `removed` and `errors` tagged outputs."""

    def __init__(self, formats: dict[str, readers.InputFormat], source: str | None,
                 fields: readers.FieldMapping, verify_digests: bool = True):
        super().__init__()
        self.fn = _ReadFileFn(formats, source, fields, verify_digests)

    def expand(self, paths):
        return paths | beam.ParDo(self.fn).with_outputs(REMOVED, ERRORS, main="records")


class _ExtractTextFn(beam.DoFn):
    STAGE = "extract"

    def __init__(self, extractor: HtmlExtractor):
        self.extractor = extractor

    def setup(self) -> None:
        self.extractor.setup()

    def teardown(self) -> None:
        self.extractor.close()

    def process(self, raw: RawRecord) -> Iterator:
        try:
            if raw.text is not None:
                yield _document(raw, raw.text)
                return
            result = self.extractor(raw.html or b"", raw.http_charset)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary
            yield _dead_letter(self.STAGE, raw, err)
            return
        if result.text is None:
            _count(f"{self.STAGE}/removed.{result.reason}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                raw.id, self.STAGE, self.extractor.extractor, result.reason, raw.input_file, raw.input_offset,
                raw.url, {"extract.html_bytes": float(result.html_bytes)}))
            return
        _count(f"{self.STAGE}/kept")
        yield _document(raw, result.text)


def _document(raw: RawRecord, text: str) -> Document:
    if raw.carried is not None:
        # a corpusmill document read back: keep its provenance, scores and signals
        return Document.from_row({**raw.carried, "id": raw.id, "text": text, "url": raw.url, "lang": raw.lang})
    return Document(id=raw.id, text=text, source=raw.source, input_file=raw.input_file,
                    input_offset=raw.input_offset, url=raw.url, crawl_date=raw.crawl_date, lang=raw.lang)


class ExtractText(beam.PTransform):
    """RawRecords to Documents: HTML through the configured extractor, plain text as it is."""

    def __init__(self, extractor: HtmlExtractor):
        super().__init__()
        self.extractor = extractor

    def expand(self, records):
        return records | beam.ParDo(_ExtractTextFn(self.extractor)).with_outputs(REMOVED, ERRORS, main="docs")


class _IdentifyLanguageFn(beam.DoFn):
    STAGE = "langid"

    def __init__(self, identifier: LanguageIdentifier):
        self.identifier = identifier

    def setup(self) -> None:
        self.identifier.setup()

    def process(self, doc: Document) -> Iterator:
        try:
            lang, score = self.identifier.identify(doc.text)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary
            yield _dead_letter(self.STAGE, doc, err)
            return
        yield dataclasses.replace(doc, lang=lang, lang_score=score)


class IdentifyLanguage(beam.PTransform):
    """Set `lang` and `lang_score` of every document with fastText LID."""

    def __init__(self, identifier: LanguageIdentifier):
        super().__init__()
        self.identifier = identifier

    def expand(self, docs):
        return docs | beam.ParDo(_IdentifyLanguageFn(self.identifier)).with_outputs(ERRORS, main="docs")


class _ApplyFilterFn(beam.DoFn):
    def __init__(self, doc_filter: Filter, stage: str):
        self.filter = doc_filter
        self.stage = stage

    def setup(self) -> None:
        self.filter.setup()

    def process(self, doc: Document) -> Iterator:
        name = self.filter.name
        _count(f"{name}/seen")
        try:
            verdict = self.filter(doc)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary
            yield _dead_letter(f"{self.stage}/{name}", doc, err)
            return
        if not verdict.keep:
            _count(f"{name}/removed.{verdict.reason}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                doc.id, self.stage, name, verdict.reason or "unspecified", doc.input_file, doc.input_offset,
                doc.url, dict(verdict.scores), detail=verdict.detail))
            return
        _count(f"{name}/kept")
        signals = {**doc.signals, **verdict.scores}
        text = doc.text if verdict.text is None else verdict.text
        yield dataclasses.replace(doc, text=text, signals=signals)


class ApplyFilter(beam.PTransform):
    """Run any registered filter: kept documents on the main output, a `removed` row per drop,
    counters `<filter>/seen`, `<filter>/kept`, `<filter>/removed.<reason>`."""

    def __init__(self, doc_filter: Filter, stage: str):
        super().__init__()
        self.filter = doc_filter
        self.stage = stage

    def expand(self, docs):
        return docs | beam.ParDo(_ApplyFilterFn(self.filter, self.stage)).with_outputs(
            REMOVED, ERRORS, main="docs")


class _WriteShardFn(beam.DoFn):
    def __init__(self, folder: str, table: str, num_shards: int, compression: str, schema: str | None):
        self.folder = folder
        self.table = table
        self.num_shards = num_shards
        self.compression = compression
        self.schema = schema

    def process(self, keyed: tuple[int, Iterable]) -> Iterator[str]:
        shard, records = keyed
        yield shards.write_shard(self.folder, self.table, shard, self.num_shards, records, self.compression,
                                 self.schema)


class WriteTable(beam.PTransform):
    """Write records as `part-XXXXX-of-NNNNN.parquet` shards with the table's schema.

    Shard = hash(sort key) mod num_shards and rows are sorted inside a shard, so the files
    are byte-for-byte the same on every run and runner. Each shard is written under a
    temporary name and renamed when complete.
    """

    def __init__(self, folder: str, table: str, num_shards: int, compression: str, schema: str | None = None):
        super().__init__()
        self.folder = folder
        self.table = table
        self.num_shards = num_shards
        self.compression = compression
        self.schema = schema

    def expand(self, records):
        return (
            records
            | "AssignShard" >> beam.Map(shards.keyed_by_shard, self.num_shards)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShardFn(self.folder, self.table, self.num_shards,
                                                       self.compression, self.schema))
        )
