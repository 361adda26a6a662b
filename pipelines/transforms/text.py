"""Raw records to documents: HTML main-text extraction, then language identification."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from corpusmill.core.extraction import BATCH_BYTES, HtmlExtractor
from corpusmill.core.language_id import LanguageIdentifier
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count, dead_letter
from corpusmill.schemas.records import Document, RawRecord, Removal

EXTRACT_SCORES = ("extract.html_bytes",)  # the scores of extraction's removals


class _BatchingDoFn(beam.DoFn):
    """Elements wait in a batch and are worked on together in `_results`; each leaves with its own
    timestamp and window when its batch is done, the last batch at the end of the bundle. Subclasses
    call `_hold` from `process` and say when a batch is full."""

    def start_bundle(self) -> None:
        self._batch: list[tuple[object, object, object]] = []
        self._batch_bytes = 0

    def _hold(self, element, timestamp, window, size: int = 0) -> Iterator:
        self._batch.append((element, timestamp, window))
        self._batch_bytes += size
        if self._full():
            yield from self._flush()

    def finish_bundle(self) -> Iterator:
        yield from self._flush()

    def _flush(self) -> Iterator:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not batch:
            return
        # every result first: each output runs the next fused steps at once
        results = self._results([element for element, _, _ in batch])
        for (element, timestamp, window), result in zip(batch, results, strict=True):
            for out in self._outputs(element, result):
                yield _in_window(out, timestamp, window)

    def _full(self) -> bool:
        raise NotImplementedError

    def _results(self, elements: list) -> list:
        raise NotImplementedError

    def _outputs(self, element, result) -> Iterator:
        raise NotImplementedError


class _ExtractTextFn(_BatchingDoFn):
    """HTML records are extracted in batches: the extractor's helper takes pages a batch at a time (a
    round trip per page cost more than the extraction's overhead budget)."""

    STAGE = "extract"

    def __init__(self, extractor: HtmlExtractor):
        self.extractor = extractor

    def setup(self) -> None:
        self.extractor.setup()

    def process(self, raw: RawRecord, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam) -> Iterator:
        if raw.text is not None:
            try:
                yield _document(raw, raw.text)
            except Exception as err:  # noqa: BLE001 - dead-letter boundary
                yield dead_letter(self.STAGE, raw, err)
            return
        yield from self._hold(raw, timestamp, window, len(raw.html or b""))

    def teardown(self) -> None:
        self.extractor.close()

    def _full(self) -> bool:
        return len(self._batch) >= self.extractor.batch_pages or self._batch_bytes >= BATCH_BYTES

    def _results(self, records: list[RawRecord]) -> list:
        try:
            return self.extractor.extract_many([(raw.html or b"", raw.http_charset) for raw in records])
        except Exception as err:  # noqa: BLE001 - dead-letter boundary: no record of the batch is lost
            return [err] * len(records)

    def _outputs(self, raw: RawRecord, result) -> Iterator:
        if isinstance(result, Exception):
            yield dead_letter(self.STAGE, raw, result)
            return
        if result.text is None:
            count(f"{self.STAGE}/removed.{result.reason}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                raw.id, self.STAGE, self.extractor.extractor, result.reason, raw.input_file, raw.input_offset,
                raw.url, {EXTRACT_SCORES[0]: float(result.html_bytes)}))
            return
        try:
            doc = _document(raw, result.text)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary
            yield dead_letter(self.STAGE, raw, err)
            return
        count(f"{self.STAGE}/kept")
        yield doc


def _in_window(out, timestamp, window):
    """An output of a batch, emitted outside `process`, with the timestamp and window of its input."""
    if isinstance(out, beam.pvalue.TaggedOutput):
        return beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, timestamp, (window,)))
    return WindowedValue(out, timestamp, (window,))


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


class _IdentifyLanguageFn(_BatchingDoFn):
    """Documents are identified a batch at a time, one after another: fastText's model stays in the CPU's
    cache between calls. Called once per document between the other steps' work, language ID cost 950
    µs/doc inside a run against 500 µs in a loop (and 1,075 µs after 8 MB of other memory traffic)."""

    STAGE = "langid"
    BATCH = 64

    def __init__(self, identifier: LanguageIdentifier):
        self.identifier = identifier

    def setup(self) -> None:
        self.identifier.setup()

    def process(self, doc: Document, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam) -> Iterator:
        yield from self._hold(doc, timestamp, window)

    def _full(self) -> bool:
        return len(self._batch) >= self.BATCH

    def _results(self, docs: list[Document]) -> list:
        return [self._identify(doc) for doc in docs]

    def _identify(self, doc: Document) -> tuple[str, float] | Exception:
        try:
            return self.identifier.identify(doc.text)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary
            return err

    def _outputs(self, doc: Document, result) -> Iterator:
        if isinstance(result, Exception):
            yield dead_letter(self.STAGE, doc, result)
        else:
            lang, score = result
            yield dataclasses.replace(doc, lang=lang, lang_score=score)


class IdentifyLanguage(beam.PTransform):
    """Set `lang` and `lang_score` of every document with fastText LID."""

    def __init__(self, identifier: LanguageIdentifier):
        super().__init__()
        self.identifier = identifier

    def expand(self, docs):
        return docs | beam.ParDo(_IdentifyLanguageFn(self.identifier)).with_outputs(ERRORS, main="docs")
