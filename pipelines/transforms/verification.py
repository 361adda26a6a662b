"""`corpusmill verify` steps: problems keyed by id, generations keyed by problem id, and each
generation judged against its problem with the same checks as synthesis."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from corpusmill.pipelines.io.problem_files import DuplicateProblemId, iter_problems, jsonl_rows
from corpusmill.pipelines.transforms.judging import judge_or_error
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.schemas.records import ErrorRecord, Removal, stable_id
from corpusmill.schemas.samples import Problem, SftSample
from corpusmill.synth.verifiers.math_answers import MathVerifier

STAGE = "verify"


class ReadKeyedProblemsFn(beam.DoFn):
    """Problems keyed by their id within the file (what generations name in `problem_id`)."""

    def __init__(self, fmt: str | None):
        self.fmt = fmt

    def process(self, path: str) -> Iterator:
        for offset, problem in iter_problems(path, self.fmt):
            if isinstance(problem, ValueError):
                # a malformed problem is not a generation: it is reported, not counted as an input
                count("verify/bad_problems")
                yield beam.pvalue.TaggedOutput("bad_problems", f"{path}@{offset}: {problem}")
                if isinstance(problem, DuplicateProblemId):  # its generations become AmbiguousProblem errors
                    yield problem.problem.local_id, problem.problem
                continue
            yield problem.local_id, problem


class ReadGenerationsFn(beam.DoFn):
    def process(self, path: str) -> Iterator:
        count("read/files")
        for offset, row in jsonl_rows(path):
            count("read/inputs")
            if isinstance(row, ValueError) or not isinstance(row, dict) or not isinstance(row.get("completion"), str) \
                    or row.get("problem_id") in (None, ""):
                why = row if isinstance(row, ValueError) else "needs a JSON object with 'problem_id' and a string "\
                                                             "'completion'"
                yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(path, "read", "MalformedRecord", str(why)[:500],
                                                                   offset))
                continue
            yield str(row["problem_id"]), (path, offset, row)


class VerifyFn(beam.DoFn):
    def __init__(self):
        self.math = None

    def setup(self) -> None:
        self.math = MathVerifier(workers=1, timeout_s=10)

    def teardown(self) -> None:
        if self.math is not None:
            self.math.close()

    def process(self, keyed: tuple[str, dict]) -> Iterator:
        problem_id, groups = keyed
        problems: list[Problem] = list(groups["problems"])
        for path, offset, row in sorted(groups["generations"], key=lambda g: (g[0], g[1])):
            sample_id = stable_id(path, str(offset))
            if not problems:
                yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
                    path, STAGE, "UnknownProblem", f"problem_id {problem_id!r} is in no problem file", offset,
                    sample_id))
                continue
            if len(problems) > 1:
                yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
                    path, STAGE, "AmbiguousProblem", f"problem_id {problem_id!r} is on {len(problems)} records of "
                    "the problem file", offset, sample_id))
                continue
            problem = problems[0]
            verdict = judge_or_error(problem, row["completion"], row.get("finish_reason"), self.math, None, None,
                                     ErrorRecord(path, STAGE, "", "", offset, sample_id))
            if isinstance(verdict, ErrorRecord):
                yield beam.pvalue.TaggedOutput(ERRORS, verdict)
                continue
            if verdict.reason is not None:
                count(f"{verdict.verifier}/removed.{verdict.reason}")
                yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                    sample_id, STAGE, verdict.verifier, verdict.reason, path, offset, None, {}, detail=verdict.detail))
                continue
            count(f"{verdict.verifier}/kept")
            provenance = {k: row.get(k) for k in ("model", "template_version", "sampling", "seed", "sample_index")}
            yield SftSample(sample_id, problem, [{"role": "user", "content": problem.prompt}], row["completion"],
                            provenance, path, offset, verdict.verifier, verdict.predicted)
