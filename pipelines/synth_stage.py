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

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from filters.base import make_filter
from filters.langid import LanguageIdentifier
from pipelines.dedup_stage import write_outputs
from pipelines.readers import STAGE as READ_STAGE
from pipelines.transforms import ERRORS, REMOVED, WriteTable, _count
from pipelines.verify_stage import SftSample, iter_problems
from schemas.config import SynthConfig
from schemas.records import Document, ErrorRecord, Removal
from synth.cache import CachedSample, GenerationCache, sample_key
from synth.judge import judge
from synth.math_verifier import MathVerifier
from synth.openai_backend import GenerationFailed, OpenAICompatibleBackend, SamplingParams
from synth.problems import FieldMapping, Problem
from synth.prompts import load_template
from synth.selection import select
from synth.traces import TraceChecks
from synth.vllm_backend import VLLMBackend

STAGE = "synth"
_PROSE_ONLY = re.compile(r"\$[^$]*\$|\\\[.*?\\\]|\\\(.*?\\\)|```.*?```|\\boxed\{[^}]*\}", re.DOTALL)
GENERATE_BATCH = (4, 64)  # problems per backend call: the backend runs a batch's requests concurrently


class _ReadProblemsFn(beam.DoFn):
    def __init__(self, fmt: str | None, fields: FieldMapping | None):
        self.fmt = fmt
        self.fields = fields

    def process(self, path: str) -> Iterator:
        for offset, problem in iter_problems(path, self.fmt, self.fields):
            if isinstance(problem, ValueError):
                _count("read/inputs")
                yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(path, READ_STAGE, "MalformedProblem",
                                                                   str(problem)[:500], offset))
                continue
            yield problem, path, offset


class _DecontaminateFn(beam.DoFn):
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
        _count("read/inputs")
        _count("decontamination_v1/removed.contaminated")
        yield beam.pvalue.TaggedOutput(REMOVED, Removal(problem.id, STAGE, "decontamination_v1", "contaminated",
                                                        path, offset, None, dict(verdict.scores),
                                                        detail=verdict.detail))


@dataclass(frozen=True)
class Pending:
    """A problem whose samples are not all cached: what the model handler needs, and the cache keys."""

    problem: Problem
    path: str
    offset: int
    keys: tuple[str, ...]
    messages: list


class _LookupCacheFn(beam.DoFn):
    """Problems whose samples are all cached go straight on; the others go to the model."""

    def __init__(self, config: SynthConfig, cache_dir: str, reverify: bool):
        self.config, self.cache_dir, self.reverify = config, cache_dir, reverify

    def setup(self) -> None:
        self.template = load_template(self.config.template)
        self.params = SamplingParams(**self.config.sampling.model_dump())
        self.cached = GenerationCache(self.cache_dir).load()

    def process(self, item) -> Iterator:
        problem, path, offset = item
        n = self.params.n
        keys = tuple(sample_key(problem.id, self.template.name, self.config.backend.model, self.params, i)
                     for i in range(n))
        have = [self.cached.get(k) for k in keys]
        if all(have):
            yield from _emit(problem, path, offset, have)
        elif self.reverify:
            _count("read/inputs")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
                path, STAGE, "NotCached", f"--reverify: {sum(h is None for h in have)} of {n} samples of "
                f"problem {problem.id!r} are not in the cache", offset, problem.id))
        else:
            yield beam.pvalue.TaggedOutput("pending", Pending(problem, path, offset, keys,
                                                              self.template.messages(problem)))


class SamplingModelHandler(ModelHandler):
    """RunInference's view of a generation backend: the model is the backend object, loaded once
    per worker and shared by its threads; a batch of conversations goes out as one call."""

    def __init__(self, config: SynthConfig):
        self.config = config
        self.params = SamplingParams(**config.sampling.model_dump())

    def load_model(self):
        b = self.config.backend
        if b.kind == "vllm":
            return _load_vllm(b)
        api_key = os.environ.get(b.api_key_env) if b.api_key_env else None
        return OpenAICompatibleBackend(b.base_url, b.model, api_key, b.concurrency, b.timeout_s, b.max_retries)

    def run_inference(self, batch, model, inference_args=None):
        results = model.generate([item.messages for item in batch], self.params)
        return [PredictionResult(item, result) for item, result in zip(batch, results, strict=True)]

    def batch_elements_kwargs(self):
        return {"min_batch_size": GENERATE_BATCH[0], "max_batch_size": GENERATE_BATCH[1]}


class _StoreGenerationsFn(beam.DoFn):
    """Cache every new sample as it arrives, then pass it on; failed problems go to errors/."""

    def __init__(self, cache_dir: str):
        self.cache_dir = cache_dir

    def setup(self) -> None:
        self.cache = GenerationCache(self.cache_dir)

    def process(self, prediction: PredictionResult) -> Iterator:
        item, result = prediction.example, prediction.inference
        if isinstance(result, GenerationFailed):
            _count("read/inputs")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(item.path, STAGE, "GenerationFailed", result.error,
                                                               item.offset, item.problem.id))
            return
        samples = [CachedSample(item.keys[g.index], item.problem.id, g.index, g.text, g.finish_reason) for g in result]
        self.cache.add(samples)  # cached as it arrives: a crash after this loses nothing
        yield from _emit(item.problem, item.path, item.offset, samples)


def _emit(problem: Problem, path: str, offset: int, samples: list[CachedSample]) -> Iterator:
    for sample in samples:
        _count("read/inputs")
        yield problem.id, (problem, path, offset, sample)


def _load_vllm(b) -> VLLMBackend:
    backend = VLLMBackend(b.model, b.dtype, b.max_model_len, b.gpu_memory_utilization, b.tensor_parallel_size,
                          b.enforce_eager, b.kv_cache_memory_bytes)
    backend.setup()
    return backend


class _JudgeFn(beam.DoFn):
    def __init__(self, config: SynthConfig):
        self.checks = TraceChecks(**config.trace_checks.model_dump())

    def setup(self) -> None:
        self.math = MathVerifier(workers=1, timeout_s=10)
        self.lid = LanguageIdentifier()
        self.lid.setup()

    def teardown(self) -> None:
        self.math.close()

    def process(self, keyed) -> Iterator:
        problem_id, (problem, path, offset, sample) = keyed
        verdict = judge(problem, sample.text, sample.finish_reason, self.math, self.checks, self._identify)
        yield problem_id, (problem, path, offset, sample, verdict)

    def _identify(self, text: str) -> tuple[str, float]:
        # LaTeX and code say little about the language a trace is written in
        return self.lid.identify(_PROSE_ONLY.sub(" ", text))


class _SelectFn(beam.DoFn):
    def __init__(self, config: SynthConfig):
        self.config = config

    def process(self, keyed) -> Iterator:
        _, items = keyed
        items = sorted(items, key=lambda it: it[3].index)
        c = self.config
        rate, kept, not_kept = select({it[3].index: it[4].reason is None for it in items}, c.keep_per_problem,
                                      c.min_pass_rate, c.max_pass_rate)
        source = items[0][0].source if items else "unknown"
        # report.json shows these counters: acceptance per source and a pass-rate histogram
        _count(f"synth/problems.{source}")
        _count(f"synth/pass_rate.{min(int(rate * 10), 9) / 10:.1f}")
        _count(f"synth/accepted.{source}", len(kept))
        template = load_template(c.template)
        provenance = {"model": c.backend.model, "template_version": c.template, "sampling": c.sampling.model_dump(),
                      "seed": c.sampling.seed, "pass_rate": rate}
        for problem, path, offset, sample, verdict in items:
            sample_id = f"{problem.id}#{sample.index}"
            reason = verdict.reason or not_kept.get(sample.index)
            if reason is None and sample.index in kept:
                _count(f"{verdict.verifier}/kept")
                yield SftSample(sample_id, problem, template.messages(problem), sample.text,
                                {**provenance, "sample_index": sample.index}, path, offset, verdict.verifier,
                                verdict.predicted)
                continue
            step = "selection" if verdict.reason is None else verdict.verifier
            _count(f"{step}/removed.{reason}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                sample_id, STAGE, step, reason, path, offset, None, {"synth.pass_rate": rate},
                detail=verdict.detail))


def build(pipeline: beam.Pipeline, config: SynthConfig, formats: dict[str, str], out: str,
          reverify: bool = False) -> None:
    """Wire the synth stage into `pipeline`."""
    fmt = None if config.problem_format == "auto" else config.problem_format
    fields = FieldMapping(**config.problem_fields.model_dump()) if config.problem_fields else None
    problems = (pipeline | "ListInputs" >> beam.Create(sorted(formats))
                | "ReadProblems" >> beam.ParDo(_ReadProblemsFn(fmt, fields)).with_outputs(ERRORS, main="problems"))
    removed, errors, todo = [], [problems[ERRORS]], problems.problems
    if config.eval_files:
        clean = todo | "Filter/decontamination_v1" >> beam.ParDo(_DecontaminateFn(config.eval_files)).with_outputs(
            REMOVED, main="clean")
        removed.append(clean[REMOVED])
        todo = clean.clean
    cache_dir = config.cache_dir or os.path.join(out, "cache")
    looked_up = todo | "LookupCache" >> beam.ParDo(_LookupCacheFn(config, cache_dir, reverify)).with_outputs(
        ERRORS, "pending", main="samples")
    generated = (looked_up.pending
                 | "Generate" >> RunInference(SamplingModelHandler(config))
                 | "StoreGenerations" >> beam.ParDo(_StoreGenerationsFn(cache_dir)).with_outputs(
                     ERRORS, main="samples"))
    errors += [looked_up[ERRORS], generated[ERRORS]]
    samples = (looked_up.samples, generated.samples) | "FlattenSamples" >> beam.Flatten()
    selected = (samples | "Judge" >> beam.ParDo(_JudgeFn(config))
                | "GroupByProblem" >> beam.GroupByKey()
                | "Select" >> beam.ParDo(_SelectFn(config)).with_outputs(REMOVED, main="kept"))
    removed.append(selected[REMOVED])
    write_outputs(None, removed, errors, config.output, out)
    _ = selected.kept | "WriteDocuments" >> WriteTable(out, "documents", config.output.num_shards,
                                                       config.output.compression, schema="sft")


def tables(config: SynthConfig) -> dict[str, int]:
    n = config.output.num_shards
    return {"documents": n, "removed": n, "errors": 1}


def step_order(config: SynthConfig) -> list[tuple[str, str]]:
    steps = [(READ_STAGE, "reader")] + ([(STAGE, "decontamination_v1")] if config.eval_files else [])
    return steps + [(STAGE, "trace_format"), (STAGE, "math_verify_v1"), (STAGE, "code_tests_v1"),
                    (STAGE, "selection")]

