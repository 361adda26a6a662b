"""`corpusmill verify`: check generations made elsewhere against their problems, with the same
verifiers and trace checks as synthesis, and write accepted samples as SFT data.

ReadProblems + ReadGenerations -> JoinByProblem -> Verify -> WriteDocuments (SFT schema,
also as JSONL in sft/) / WriteRemoved / WriteErrors, with report.json proving
generations == accepted + rejected + errors.
"""

from __future__ import annotations

import argparse

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.config_checks import check_code_sandbox
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED
from corpusmill.pipelines.transforms.verification import STAGE, ReadGenerationsFn, ReadKeyedProblemsFn, VerifyFn
from corpusmill.pipelines.transforms.write import OutputSpec, WriteTable, write_outputs
from corpusmill.schemas.config import VerifyConfig
from corpusmill.schemas.tables import TableSchemas


def inputs(config: VerifyConfig, override: list[str] | None) -> dict[str, tuple[str, int]]:
    """The problem and generation files, each with its role and size."""
    found = {}
    for role, path in (("problems", config.problems), ("generations", config.generations)):
        if not FileSystems.exists(path):
            raise UsageError(f"--{role}: file not found: {path}")
        found[path] = (role, FileSystems.match([path])[0].metadata_list[0].size_in_bytes)
    return found


def build(pipeline: beam.Pipeline, config: VerifyConfig, formats: dict[str, str], output: OutputSpec) -> None:
    """Wire the verify stage into `pipeline`."""
    read = (pipeline | "ListProblems" >> beam.Create([config.problems])
            | "ReadProblems" >> beam.ParDo(ReadKeyedProblemsFn(config.format)).with_outputs(
                "bad_problems", main="problems"))
    gens = (pipeline | "ListGenerations" >> beam.Create([config.generations])
            | "ReadGenerations" >> beam.ParDo(ReadGenerationsFn()).with_outputs(ERRORS, main="generations"))
    verified = ({"problems": read.problems, "generations": gens.generations}
                | "JoinByProblem" >> beam.CoGroupByKey()
                | "Verify" >> beam.ParDo(VerifyFn()).with_outputs(REMOVED, ERRORS, main="accepted"))
    _ = verified.accepted | "WriteDocuments" >> WriteTable(output, "documents")
    write_outputs(None, [verified[REMOVED]], [gens[ERRORS], verified[ERRORS]], output)


def tables(config: VerifyConfig) -> list[str]:
    return ["documents", "removed", "errors"]


def schemas(config: VerifyConfig, formats: dict[str, str]) -> TableSchemas:
    return TableSchemas("sft")  # verification measures nothing beyond its reason codes


def step_order(config: VerifyConfig) -> list[tuple[str, str]]:
    return [(READ_STAGE, "reader"), (STAGE, "trace_format"), (STAGE, "math_verify_v1"), (STAGE, "code_tests_v1")]


def report_fields(counters: dict[str, int]) -> dict:
    # malformed problem records are not generations: reported, not counted as inputs
    return {"bad_problems": counters.get("verify/bad_problems", 0)}


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("verify", build, step_order, tables, schemas, inputs=inputs, check=check,
                     report_fields=report_fields)


def check(config: VerifyConfig, paths: list[str]) -> None:
    check_code_sandbox([config.problems], config.format, None)
