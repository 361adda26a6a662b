"""The `synth` stage: problems in, verified reasoning traces out as SFT data.

ReadProblems -> [Filter/decontamination_v1] -> LookupCache -> Generate (RunInference with a
ModelHandler per backend, the model shared per worker) -> StoreGenerations -> Judge (trace
checks, math-verify or sandboxed tests) -> GroupByProblem -> Select (up to k verified per
problem inside the pass-rate window) -> WriteDocuments (SFT) / WriteRemoved / WriteErrors.

Every generation is cached as it arrives (synth/cache.py); `--reverify` re-judges cached
generations without generating. A problem whose requests keep failing goes to errors/ and
is generated again by the next run.
"""

from __future__ import annotations

import argparse
from functools import partial

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import RunInference

from corpusmill.core.names import unique_names
from corpusmill.pipelines.config_checks import check_code_sandbox
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.generation import (
    LookupCacheFn,
    SamplingModelHandler,
    StoreGenerationsFn,
    keyed_by_cache_partition,
)
from corpusmill.pipelines.transforms.judging import PAIRS, SYNTH_SCORES, JudgeFn, SelectFn
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED
from corpusmill.pipelines.transforms.problems import STAGE, DecontaminateFn, ReadProblemsFn
from corpusmill.pipelines.transforms.write import OutputSpec, WriteTable, write_outputs
from corpusmill.schemas.config import SynthConfig
from corpusmill.schemas.tables import TableSchemas


def build(pipeline: beam.Pipeline, config: SynthConfig, formats: dict[str, str], output: OutputSpec,
          reverify: bool = False) -> None:
    """Wire the synth stage into `pipeline`."""
    fmt = None if config.problem_format == "auto" else config.problem_format
    read = ReadProblemsFn(fmt, config.problem_fields, unique_names(sorted(formats)))
    problems = (pipeline | "ListInputs" >> beam.Create(sorted(formats))
                | "ReadProblems" >> beam.ParDo(read).with_outputs(ERRORS, main="problems"))
    removed, errors, todo = [], [problems[ERRORS]], problems.problems
    if config.eval_files:
        clean = todo | "Filter/decontamination_v1" >> beam.ParDo(DecontaminateFn(config.eval_files)).with_outputs(
            REMOVED, main="clean")
        removed.append(clean[REMOVED])
        todo = clean.clean
    cache_dir = config.cache_dir or FileSystems.join(output.out, "cache")
    looked_up = (todo
                 | "KeyByCachePartition" >> beam.Map(keyed_by_cache_partition)
                 | "GroupByCachePartition" >> beam.GroupByKey()
                 | "LookupCache" >> beam.ParDo(LookupCacheFn(config, cache_dir, reverify)).with_outputs(
                     ERRORS, "pending", main="samples"))
    generated = (looked_up.pending
                 | "Generate" >> RunInference(SamplingModelHandler(config))
                 | "StoreGenerations" >> beam.ParDo(StoreGenerationsFn(cache_dir)).with_outputs(
                     ERRORS, main="samples"))
    errors += [looked_up[ERRORS], generated[ERRORS]]
    samples = (looked_up.samples, generated.samples) | "FlattenSamples" >> beam.Flatten()
    judged = samples | "Judge" >> beam.ParDo(JudgeFn(config)).with_outputs(ERRORS, main="judged")
    errors.append(judged[ERRORS])
    selected = (judged.judged
                | "GroupByProblem" >> beam.GroupByKey()
                | "Select" >> beam.ParDo(SelectFn(config)).with_outputs(REMOVED, PAIRS, main="kept"))
    removed.append(selected[REMOVED])
    _ = selected.kept | "WriteDocuments" >> WriteTable(output, "documents")
    if config.preference_pairs is not None:
        _ = selected[PAIRS] | "WritePairs" >> WriteTable(output, PAIRS)
    write_outputs(None, removed, errors, output)


def tables(config: SynthConfig) -> list[str]:
    return ["documents", "removed", "errors", *([PAIRS] if config.preference_pairs is not None else [])]


def schemas(config: SynthConfig, formats: dict[str, str]) -> TableSchemas:
    decontamination = ("decontam.matched_ngrams",) if config.eval_files else ()
    return TableSchemas("sft", scores=tuple(sorted({*SYNTH_SCORES, *decontamination})))


def step_order(config: SynthConfig) -> list[tuple[str, str]]:
    steps = [(READ_STAGE, "reader")] + ([(STAGE, "decontamination_v1")] if config.eval_files else [])
    answers = [(STAGE, "decontamination_v1.answers")] if config.eval_files else []  # answers are checked too
    return steps + [(STAGE, "generate"), (STAGE, "trace_format"), (STAGE, "math_verify_v1"),
                    (STAGE, "code_tests_v1"), *answers, (STAGE, "selection")]


def check(config: SynthConfig, paths: list[str]) -> None:
    fmt = None if config.problem_format == "auto" else config.problem_format
    check_code_sandbox(paths, fmt, config.problem_fields)


def local_workers(config: SynthConfig) -> int | None:
    """One worker process when a vLLM engine runs in-process: each worker would load its own engine,
    and two engines on one machine fight for its GPU memory (or, on a CPU build, its cores)."""
    backends = [config.backend, *([config.judge.backend] if config.judge is not None else [])]
    return 1 if any(b.kind == "vllm" for b in backends) else None


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("synth", partial(build, reverify=args.reverify), step_order, tables, schemas, check=check,
                     force=args.reverify, local_workers=local_workers)
