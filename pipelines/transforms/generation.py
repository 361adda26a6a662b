"""Generation for synthesis: serve what the cache has, send the rest through RunInference (a ModelHandler
per backend, the model shared per worker), and cache every new sample as it arrives."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from corpusmill.pipelines.io.generation_cache import GenerationCache
from corpusmill.pipelines.transforms.ledger import ERRORS, count
from corpusmill.schemas.config import BackendConfig, SynthConfig
from corpusmill.schemas.records import GENERATION_FAILED, ErrorRecord
from corpusmill.schemas.samples import CachedSample, GenerationFailed, Problem
from corpusmill.synth.backends.openai_server import OpenAICompatibleBackend
from corpusmill.synth.backends.vllm_engine import VLLMBackend
from corpusmill.synth.cache import cache_partition, sample_key
from corpusmill.synth.prompts import load_template

STAGE = "synth"
GENERATE_STEP = f"{STAGE}/generate"  # the stage of generation errors in errors/, a step of the report's funnel


@dataclass(frozen=True)
class Pending:
    """A problem whose samples are not all cached: what the model handler needs, and the cache keys."""

    problem: Problem
    path: str
    offset: int
    keys: tuple[str, ...]
    messages: list


def keyed_by_cache_partition(item: tuple[Problem, str, int]) -> tuple[int, tuple[Problem, str, int]]:
    """(cache partition of the problem, item): problems meet the cache partition that holds their samples."""
    return cache_partition(item[0].id), item


class LookupCacheFn(beam.DoFn):
    """One cache partition's problems: those whose samples are all cached go straight on; the others go
    to the model. Only that partition of the cache is read."""

    def __init__(self, config: SynthConfig, cache_dir: str, reverify: bool):
        self.config, self.cache_dir, self.reverify = config, cache_dir, reverify

    def setup(self) -> None:
        self.template = load_template(self.config.template)
        self.cache = GenerationCache(self.cache_dir)

    def process(self, keyed: tuple[int, list]) -> Iterator:
        partition, items = keyed
        cached = self.cache.load_partition(partition)
        for item in sorted(items, key=lambda it: it[0].id):
            yield from self._lookup(item, cached)

    def _lookup(self, item: tuple[Problem, str, int], cached: dict[str, CachedSample]) -> Iterator:
        problem, path, offset = item
        n = self.config.sampling.n
        messages = self.template.messages(problem)
        keys = tuple(sample_key(problem.id, messages, self.template.name, self.config.backend.model,
                                self.config.sampling, i) for i in range(n))
        have = [cached.get(k) for k in keys]
        if all(have):
            yield from _emit(problem, path, offset, have)
        elif self.reverify:
            count("read/inputs")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
                path, GENERATE_STEP, "NotCached", f"--reverify: {sum(h is None for h in have)} of {n} samples of "
                f"problem {problem.id!r} are not in the cache", offset, problem.id))
        else:
            yield beam.pvalue.TaggedOutput("pending", Pending(problem, path, offset, keys, messages))


def make_backend(b: BackendConfig):
    """The generation backend a config names; a vLLM engine starts on its first `generate`, so a run
    with everything cached starts none."""
    if b.kind == "vllm":
        return VLLMBackend(b)
    api_key = os.environ.get(b.api_key_env) if b.api_key_env else None
    return OpenAICompatibleBackend(b, api_key)


class SamplingModelHandler(ModelHandler):
    """RunInference's view of a generation backend: the model is the backend object, loaded once
    per worker and shared by its threads; a batch of conversations goes out as one call."""

    def __init__(self, config: SynthConfig):
        self.config = config

    def load_model(self):
        return make_backend(self.config.backend)

    def run_inference(self, batch, model, inference_args=None):
        results = model.generate([item.messages for item in batch], self.config.sampling)
        return [PredictionResult(item, result) for item, result in zip(batch, results, strict=True)]

    def batch_elements_kwargs(self):
        # A fixed size: Beam's adaptive batching aims at short batches and shrinks to the minimum when a
        # call takes minutes, as generation does; the engine batches best with many requests at once.
        size = self.config.backend.batch_size
        return {"min_batch_size": size, "max_batch_size": size}


class StoreGenerationsFn(beam.DoFn):
    """Cache every new sample as it arrives, then pass it on; failed problems go to errors/."""

    def __init__(self, cache_dir: str):
        self.cache_dir = cache_dir

    def setup(self) -> None:
        self.cache = GenerationCache(self.cache_dir)

    def process(self, prediction: PredictionResult) -> Iterator:
        item, result = prediction.example, prediction.inference
        if isinstance(result, GenerationFailed):
            count("read/inputs")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(item.path, GENERATE_STEP, GENERATION_FAILED,
                                                               result.error,
                                                               item.offset, item.problem.id))
            return
        samples = [CachedSample(item.keys[g.index], item.problem.id, g.index, g.text, g.finish_reason) for g in result]
        self.cache.add(samples)  # cached as it arrives: a crash after this loses nothing
        yield from _emit(item.problem, item.path, item.offset, samples)


def _emit(problem: Problem, path: str, offset: int, samples: list[CachedSample]) -> Iterator:
    for sample in samples:
        count("read/inputs")
        yield problem.id, (problem, path, offset, sample)
