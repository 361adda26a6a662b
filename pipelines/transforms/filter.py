"""ApplyFilter: the one Beam adapter for every registered filter."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam

from corpusmill.filters.base import Filter
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count, dead_letter
from corpusmill.schemas.records import Document, Removal


class _ApplyFilterFn(beam.DoFn):
    def __init__(self, doc_filter: Filter, stage: str):
        self.filter = doc_filter
        self.stage = stage

    def setup(self) -> None:
        self.filter.setup()

    def process(self, doc: Document) -> Iterator:
        name = getattr(self.filter, "step", self.filter.name)  # unregistered filters (tests) have no step
        count(f"{name}/seen")
        try:
            verdict = self.filter(doc)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary
            yield dead_letter(f"{self.stage}/{name}", doc, err)
            return
        if not verdict.keep:
            count(f"{name}/removed.{verdict.reason}")
            if verdict.tag:
                count(f"{name}/tag.{verdict.tag}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                doc.id, self.stage, name, verdict.reason or "unspecified", doc.input_file, doc.input_offset,
                doc.url, dict(verdict.scores), detail=verdict.detail))
            return
        count(f"{name}/kept")
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
