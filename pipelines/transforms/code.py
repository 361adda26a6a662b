"""The code stage's own steps: reading source files, and assembling each repository's kept files into
one repository-level sample."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import apache_beam as beam

from corpusmill.filters.code.repository import repository_text
from corpusmill.pipelines.io.code_files import read_code
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.schemas.config import CodeInputConfig
from corpusmill.schemas.records import Document, ErrorRecord, stable_id

REPO_SIGNALS = ("code.repo_files",)


class ReadCodeFn(beam.DoFn):
    """Inputs in (a tree's file, or a JSONL / Parquet file of records); RawRecords out."""

    def __init__(self, formats: dict[str, str], config: CodeInputConfig):
        self.formats, self.config = formats, config

    def process(self, path: str) -> Iterator:
        count("read/files")
        try:
            for event in read_code(path, self.formats[path], self.config):
                count("read/inputs")
                if event.record is not None:
                    yield event.record
                elif event.removal is not None:
                    count(f"read/removed.{event.removal.reason}")
                    yield beam.pvalue.TaggedOutput(REMOVED, event.removal)
                else:
                    yield beam.pvalue.TaggedOutput(ERRORS, event.error)
        except OSError as err:  # a file that cannot be read at all is one error
            count("read/inputs")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(path, READ_STAGE, type(err).__name__, str(err)[:2000]))


def keyed_by_repo(doc: Document) -> tuple[str, Document]:
    return doc.url.split("/", 1)[0], doc


def assemble_repo(keyed: tuple[str, Iterable[Document]]) -> Iterator[Document]:
    """A repository's kept files as one document, files in dependency order, each headed by its path."""
    repo, docs = keyed
    docs = sorted(docs, key=lambda d: d.url)
    files = {d.url.split("/", 1)[1]: (d.lang, d.text) for d in docs}
    by_bytes = Counter()
    for d in docs:
        by_bytes[d.lang] += len(d.text)
    language = min(by_bytes, key=lambda lang: (-by_bytes[lang], lang or ""))
    count("code/repositories")
    yield Document(id=stable_id("code-repo", repo), text=repository_text(files), source="code-repo",
                   input_file=docs[0].input_file, url=repo, lang=language,
                   signals={REPO_SIGNALS[0]: float(len(files))})
