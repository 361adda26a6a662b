"""The Beam adapters on a handful of records with TestPipeline and assert_that."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.filters.base import make_filter
from corpusmill.pipelines.transforms.filter import ApplyFilter
from corpusmill.pipelines.transforms.read import ReadRecords
from corpusmill.pipelines.transforms.text import ExtractText, IdentifyLanguage
from corpusmill.schemas.config import ExtractConfig, InputConfig
from corpusmill.schemas.records import Document, RawRecord
from tests.test_filters import GOOD


def _doc(i: int, text: str) -> Document:
    return Document(id=f"d{i}", text=text, source="t", input_file="f", lang="en", lang_score=0.9)


def test_apply_filter_splits_kept_removed_and_dead_letters():
    class Exploding:
        name = "exploding_v1"

        def setup(self):
            pass

        def __call__(self, doc):
            if doc.id == "d2":
                raise RuntimeError("boom")
            return make_filter("gopher_quality_v1")(doc)

    with TestPipeline() as p:
        docs = p | beam.Create([_doc(0, GOOD), _doc(1, "too short"), _doc(2, GOOD)])
        out = docs | ApplyFilter(Exploding(), "curate")
        assert_that(out.docs | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["d0"]), label="kept")
        assert_that(out.removed | "Removed" >> beam.Map(lambda r: (r.id, r.filter, r.reason)),
                    equal_to([("d1", "exploding_v1", "gopher_short_doc")]), label="removed")
        assert_that(out.errors | "Errors" >> beam.Map(lambda e: (e.record_id, e.stage, e.error_class, e.message)),
                    equal_to([("d2", "curate/exploding_v1", "RuntimeError", "boom")]), label="errors")


def test_filter_signals_accumulate_on_kept_documents():
    with TestPipeline() as p:
        docs = p | beam.Create([_doc(0, GOOD)])
        a = docs | "A" >> ApplyFilter(make_filter("gopher_quality_v1"), "curate")
        b = a.docs | "B" >> ApplyFilter(make_filter("fineweb_quality_v1"), "curate")
        keys = b.docs | beam.Map(lambda d: sorted({k.split(".")[0] for k in d.signals}))
        assert_that(keys, equal_to([["fineweb", "gopher"]]))


class _FailingOnOne:
    """A language identifier that fails on one text, to see batches isolate it."""

    def setup(self):
        pass

    def identify(self, text: str) -> tuple[str, float]:
        if text == "bad":
            raise ValueError("no language")
        return "xx", float(len(text))


def test_language_id_in_batches_labels_every_document_and_fails_only_the_bad_one():
    texts = ["a" * (i % 7 + 1) for i in range(150)]  # more than two batches
    texts[70] = "bad"
    with TestPipeline() as p:
        docs = p | beam.Create([_doc(i, t) for i, t in enumerate(texts)])
        out = docs | IdentifyLanguage(_FailingOnOne())
        assert_that(out.docs | "Labels" >> beam.Map(lambda d: (d.id, d.lang, d.lang_score)),
                    equal_to([(f"d{i}", "xx", float(len(t))) for i, t in enumerate(texts) if i != 70]), label="docs")
        assert_that(out.errors | "Errors" >> beam.Map(lambda e: (e.record_id, e.stage, e.message)),
                    equal_to([("d70", "langid", "no language")]), label="errors")


def test_extract_text_passes_plain_text_and_removes_empty_html():
    records = [RawRecord("r1", "t", "f", 0, text="already text"),
               RawRecord("r2", "t", "f", 1, html=b"<html><body></body></html>")]
    with TestPipeline() as p:
        out = p | beam.Create(records) | ExtractText(HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0)))
        assert_that(out.docs | "Texts" >> beam.Map(lambda d: d.text), equal_to(["already text"]), label="docs")
        assert_that(out.removed | "Reasons" >> beam.Map(lambda r: (r.id, r.reason)),
                    equal_to([("r2", "no_text_extracted")]), label="removed")


def test_read_records_tags_outputs(data_dir):
    path = str(data_dir / "bad/aut_example_docs.warc.gz")
    trunc = str(data_dir / "bad/warcio_example-trunc.warc")
    with TestPipeline() as p:
        out = (p | beam.Create([path, trunc])
               | ReadRecords({path: "warc", trunc: "warc"}, InputConfig()))
        assert_that(out.records | "N" >> beam.combiners.Count.Globally(), equal_to([0]), label="records")
        assert_that(out.removed | "R" >> beam.combiners.Count.Globally(), equal_to([9]), label="removed")
        assert_that(out.errors | "E" >> beam.combiners.Count.Globally(), equal_to([2]), label="errors")
