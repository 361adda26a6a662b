"""`corpusmill verify`: check generations made elsewhere against their problems, with the same
verifiers and trace checks as synthesis, and write accepted samples as SFT data.

ReadProblems + ReadGenerations -> JoinByProblem -> Verify -> WriteDocuments (SFT schema,
also sft.jsonl) / WriteRemoved / WriteErrors, with report.json proving
generations == accepted + rejected + errors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines import manifest as manifests
from pipelines import report as reports
from pipelines.errors import UsageError
from pipelines.launch import check_output_folder, complete_shards, read_counters
from pipelines.options import pipeline_options
from pipelines.transforms import ERRORS, REMOVED, WriteTable, _count
from schemas.records import ErrorRecord, Removal, stable_id
from synth.judge import judge
from synth.math_verifier import MathVerifier
from synth.problems import FORMATS, Problem, problem_from_row

STAGE = "verify"
TABLES = {"documents": 1, "removed": 1, "errors": 1}


def _jsonl_rows(path: str) -> Iterator[tuple[int, object | ValueError]]:
    """(byte offset, parsed row or the ValueError) for each non-blank line."""
    offset = 0
    with FileSystems.open(path) as f:
        for line in f:
            start, offset = offset, offset + len(line)
            if line.strip():
                try:
                    yield start, json.loads(line)
                except ValueError as err:
                    yield start, err


def iter_problems(path: str, fmt: str | None, fields=None) -> Iterator[tuple[int, Problem | ValueError]]:
    """(offset, Problem or the ValueError saying why the record is not one) for a JSONL or Parquet
    problem file; the offset is a byte offset in JSONL and a row number in Parquet."""
    source = os.path.basename(path).split(".")[0]
    rows = _parquet_rows(path) if path.endswith(".parquet") else _jsonl_rows(path)
    for index, (offset, row) in enumerate(rows):
        try:
            if isinstance(row, ValueError):
                raise row
            yield offset, problem_from_row(row, index, source, fmt, fields)
        except ValueError as err:
            yield offset, err


def _parquet_rows(path: str) -> Iterator[tuple[int, object]]:
    import pyarrow.parquet as pq

    with FileSystems.open(path, compression_type="uncompressed") as f:
        yield from enumerate(pq.read_table(f).to_pylist())


class _ReadProblemsFn(beam.DoFn):
    def __init__(self, fmt: str | None):
        self.fmt = fmt

    def process(self, path: str) -> Iterator:
        for offset, problem in iter_problems(path, self.fmt):
            if isinstance(problem, ValueError):
                # a malformed problem is not a generation: it is reported, not counted as an input
                _count("verify/bad_problems")
                yield beam.pvalue.TaggedOutput("bad_problems", f"{path}@{offset}: {problem}")
                continue
            yield problem.id, problem


class _ReadGenerationsFn(beam.DoFn):
    def process(self, path: str) -> Iterator:
        for offset, row in _jsonl_rows(path):
            _count("read/inputs")
            if isinstance(row, ValueError) or not isinstance(row, dict) or not isinstance(row.get("completion"), str) \
                    or row.get("problem_id") in (None, ""):
                why = row if isinstance(row, ValueError) else "needs a JSON object with 'problem_id' and a string "\
                                                             "'completion'"
                yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(path, "read", "MalformedRecord", str(why)[:500],
                                                                   offset))
                continue
            yield str(row["problem_id"]), (path, offset, row)


class _VerifyFn(beam.DoFn):
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
            problem = problems[0]
            verdict = judge(problem, row["completion"], row.get("finish_reason"), self.math)
            if verdict.reason is not None:
                _count(f"{verdict.verifier}/removed.{verdict.reason}")
                yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                    sample_id, STAGE, verdict.verifier, verdict.reason, path, offset, None, {}, detail=verdict.detail))
                continue
            _count(f"{verdict.verifier}/kept")
            provenance = {k: row.get(k) for k in ("model", "template_version", "sampling", "seed", "sample_index")}
            yield SftSample(sample_id, problem, [{"role": "user", "content": problem.prompt}], row["completion"],
                            provenance, path, offset, verdict.verifier, verdict.predicted)


class SftSample:
    """An accepted sample as one row of the SFT table."""

    def __init__(self, sample_id: str, problem: Problem, prompt_messages: list[dict], completion: str,
                 provenance: dict, path: str, offset: int | None, verifier: str, predicted: str | None):
        self.id, self.problem, self.prompt_messages, self.completion = sample_id, problem, prompt_messages, completion
        self.provenance, self.path, self.offset = provenance, path, offset
        self.verifier, self.predicted = verifier, predicted

    @property
    def sort_key(self) -> str:
        return self.id

    def to_row(self) -> dict:
        p = self.provenance
        sampling, seed, index = p.get("sampling"), p.get("seed"), p.get("sample_index")
        return {
            "id": self.id, "problem_id": self.problem.id, "source": self.problem.source,
            "format": self.problem.format,
            "messages": [*self.prompt_messages, {"role": "assistant", "content": self.completion}],
            "model": p.get("model"), "template_version": p.get("template_version"),
            "sampling": json.dumps(sampling, sort_keys=True) if sampling is not None else None,
            "seed": seed if isinstance(seed, int) else None, "sample_index": index if isinstance(index, int) else None,
            "pass_rate": p.get("pass_rate"), "verifier": self.verifier, "predicted": self.predicted,
            "input_file": self.path, "input_offset": self.offset,
        }


def build(pipeline: beam.Pipeline, problems: str, generations: str, fmt: str | None, out: str):
    """Wire the verify stage; returns the PCollection of bad-problem messages."""
    read = (pipeline | "ListProblems" >> beam.Create([problems])
            | "ReadProblems" >> beam.ParDo(_ReadProblemsFn(fmt)).with_outputs("bad_problems", main="problems"))
    gens = (pipeline | "ListGenerations" >> beam.Create([generations])
            | "ReadGenerations" >> beam.ParDo(_ReadGenerationsFn()).with_outputs(ERRORS, main="generations"))
    verified = ({"problems": read.problems, "generations": gens.generations}
                | "JoinByProblem" >> beam.CoGroupByKey()
                | "Verify" >> beam.ParDo(_VerifyFn()).with_outputs(REMOVED, ERRORS, main="accepted"))
    _ = verified.accepted | "WriteDocuments" >> WriteTable(out, "documents", 1, "zstd", schema="sft")
    _ = verified[REMOVED] | "WriteRemoved" >> WriteTable(out, "removed", 1, "zstd")
    _ = ((gens[ERRORS], verified[ERRORS]) | "FlattenErrors" >> beam.Flatten()
         | "WriteErrors" >> WriteTable(out, "errors", 1, "zstd"))
    return read.bad_problems


def run(problems: str, generations: str, fmt: str | None, out: str, beam_args: list[str]) -> int:
    """Validate arguments, run the pipeline, write report, manifest and sft.jsonl; returns the exit code."""
    for label, path in (("--problems", problems), ("--generations", generations)):
        if not FileSystems.exists(path):
            raise UsageError(f"{label}: file not found: {path}")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    check_output_folder(out)
    pipeline = beam.Pipeline(options=pipeline_options(beam_args))
    build(pipeline, problems, generations, fmt, out)
    base = {"stage": STAGE, "inputs": {"problems": problems, "generations": generations, "format": fmt},
            "packages": manifests.package_versions(), "started": manifests.now()}
    manifests.write_manifest(out, {**base, "status": "running"})
    result = pipeline.run()
    result.wait_until_finish()
    counters = read_counters(result)
    written = complete_shards(out, TABLES, "zstd")
    report = reports.build_report(out, counters, [("read", "reader"), (STAGE, "trace_format"),
                                                  (STAGE, "math_verify_v1"), (STAGE, "code_tests_v1")])
    report["bad_problems"] = counters.get("verify/bad_problems", 0)
    reports.write_report(out, report, "corpusmill verify")
    write_sft_jsonl(out)
    status = "complete" if report["accounting_ok"] else "failed_accounting"
    manifests.write_manifest(out, {**base, "status": status, "finished": manifests.now(), "shards": written,
                                   "counts": {k: report[k] for k in ("inputs", "kept", "removed", "errors")}})
    sys.stdout.write(f"corpusmill verify: {report['inputs']} generations: accepted {report['kept']}, rejected "
                     f"{report['removed']} {report['removed_by_reason']}, errors {report['errors']}; "
                     f"bad problem records {report['bad_problems']}\noutputs: {out}/documents/ and {out}/sft.jsonl\n")
    return 0 if report["accounting_ok"] else 1


def write_sft_jsonl(out: str) -> None:
    """The accepted samples also as JSONL (messages plus provenance), for trainers that read JSONL."""
    import pyarrow.dataset as ds

    table = ds.dataset(FileSystems.join(out, "documents"), format="parquet").to_table()
    with FileSystems.create(FileSystems.join(out, "sft.jsonl")) as f:
        for row in table.to_pylist():
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
