"""Problem sets into synthesis: read problems (malformed ones to errors/), and drop those that overlap
an evaluation benchmark."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from corpusmill.filters.base import make_filter
from corpusmill.pipelines.io.problem_files import DuplicateProblemId, iter_problems
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.schemas.config import ProblemFieldsConfig
from corpusmill.schemas.records import Document, ErrorRecord, Removal

STAGE = "synth"


class ReadProblemsFn(beam.DoFn):
    """Problem files in; (problem, path, offset) out, the problem ids namespaced by `sources`."""

    def __init__(self, fmt: str | None, fields: ProblemFieldsConfig | None, sources: dict[str, str]):
        self.fmt = fmt
        self.fields = fields
        self.sources = sources

    def process(self, path: str) -> Iterator:
        for offset, problem in iter_problems(path, self.fmt, self.fields, self.sources[path]):
            if isinstance(problem, ValueError):
                count("read/inputs")
                kind = "DuplicateProblemId" if isinstance(problem, DuplicateProblemId) else "MalformedProblem"
                yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(path, READ_STAGE, kind, str(problem)[:500], offset))
                continue
            yield problem, path, offset


class DecontaminateFn(beam.DoFn):
    def __init__(self, eval_files: list[str]):
        self.filter = make_filter("decontamination_v1", {"eval_files": eval_files})

    def setup(self) -> None:
        self.filter.setup()

    def process(self, item) -> Iterator:
        problem, path, offset = item
        verdict = self.filter(Document(id=problem.id, text=problem.prompt, source=problem.source, input_file=path))
        if verdict.keep:
            yield item
            return
        count("read/inputs")
        count("decontamination_v1/removed.contaminated")
        count(f"decontamination_v1/tag.{verdict.tag}")
        yield beam.pvalue.TaggedOutput(REMOVED, Removal(problem.id, STAGE, "decontamination_v1", "contaminated",
                                                        path, offset, None, dict(verdict.scores),
                                                        detail=verdict.detail))
