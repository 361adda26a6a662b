"""Judging for synthesis: every sample through the trace checks and its verifier, then per problem
up to k verified samples inside the pass-rate window become SFT samples."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import apache_beam as beam

from corpusmill.core.language_id import LanguageIdentifier
from corpusmill.filters.base import make_filter
from corpusmill.pipelines.transforms.generation import make_backend
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.schemas.config import SynthConfig
from corpusmill.schemas.records import VERIFIER_ERROR, Document, ErrorRecord, Removal
from corpusmill.schemas.samples import Generation, PreferencePair, Problem, SftSample
from corpusmill.synth.pairs import Judged, preference_pairs
from corpusmill.synth.prompts import load_template
from corpusmill.synth.selection import select
from corpusmill.synth.verifiers.judge import Judgement, judge
from corpusmill.synth.verifiers.llm_judge import LlmJudge
from corpusmill.synth.verifiers.math_answers import MathVerifier
from corpusmill.synth.verifiers.traces import TraceChecks

STAGE = "synth"
SYNTH_SCORES = ("synth.pass_rate",)  # the scores of synthesis's removals
PAIRS = "pairs"  # SelectFn's output of DPO pairs


def _generation(sample) -> Generation:
    return Generation(sample.text, sample.finish_reason, sample.index)
_PROSE_ONLY = re.compile(r"\$[^$]*\$|\\\[.*?\\\]|\\\(.*?\\\)|```.*?```|\\boxed\{[^}]*\}", re.DOTALL)


def judge_or_error(problem: Problem, completion: str, finish_reason: str | None, math: MathVerifier,
                   checks: TraceChecks | None, identify, where: ErrorRecord, llm_judge: LlmJudge | None = None
                   ) -> Judgement | ErrorRecord:
    """The judgement of one sample, or its error-ledger row (`where` with the class and message filled in)
    when the verifier itself failed or raised: one sample never fails a build, and a failure of our
    own machinery is never a rejection."""
    try:
        verdict = judge(problem, completion, finish_reason, math, checks, identify, llm_judge)
    except Exception as err:  # noqa: BLE001 - dead-letter boundary
        count(f"{where.stage}/errors")
        return dataclasses.replace(where, error_class=type(err).__name__, message=str(err)[:2000])
    if verdict.verifier_failed:
        count(f"{verdict.verifier}/errors.{verdict.reason}")
        message = f"{verdict.reason}: {verdict.detail}"[:2000]
        return dataclasses.replace(where, stage=f"{where.stage}/{verdict.verifier}", error_class=VERIFIER_ERROR,
                                   message=message)
    return verdict


class JudgeFn(beam.DoFn):
    """Judge every sample; a verified answer that quotes an evaluation benchmark is rejected too (the
    same decontamination_v1 as curate's and the problems')."""

    def __init__(self, config: SynthConfig):
        self.judge_config = config.judge
        self.checks = TraceChecks(config.trace_checks)
        self.decontamination = (make_filter("decontamination_v1", {"eval_files": config.eval_files})
                                if config.eval_files else None)

    def setup(self) -> None:
        self.math = MathVerifier(workers=1, timeout_s=10)
        self.lid = LanguageIdentifier()
        self.lid.setup()
        if self.decontamination is not None:
            self.decontamination.setup()
        self.llm_judge = (LlmJudge(self.judge_config, make_backend(self.judge_config.backend))
                          if self.judge_config is not None else None)

    def teardown(self) -> None:
        self.math.close()

    def process(self, keyed) -> Iterator:
        problem_id, (problem, path, offset, sample) = keyed
        verdict = judge_or_error(problem, sample.text, sample.finish_reason, self.math, self.checks, self._identify,
                                 ErrorRecord(path, STAGE, "", "", offset, f"{problem.id}#{sample.index}"),
                                 self.llm_judge)
        if isinstance(verdict, ErrorRecord):
            yield beam.pvalue.TaggedOutput(ERRORS, verdict)
            return
        if verdict.reason is None and self.decontamination is not None:
            found = self.decontamination(Document(id=problem.id, text=sample.text, source=problem.source,
                                                  input_file=path))
            if not found.keep:
                count(f"decontamination_v1.answers/tag.{found.tag}")
                verdict = Judgement("decontamination_v1.answers", "contaminated", None, found.detail)
        yield problem_id, (problem, path, offset, sample, verdict)

    def _identify(self, text: str) -> tuple[str, float]:
        # LaTeX and code say little about the language a trace is written in
        return self.lid.identify(_PROSE_ONLY.sub(" ", text))


class SelectFn(beam.DoFn):
    def __init__(self, config: SynthConfig):
        self.config = config

    def _pairs(self, items: list, prompt: list[dict]) -> Iterator:
        """DPO pairs of one problem (synth/pairs.py says which samples may stand on which side)."""
        settings = self.config.preference_pairs
        judged = [Judged(sample.index, verdict.verifier, verdict.reason) for _, _, _, sample, verdict in items]
        by_index = {it[3].index: it for it in items}
        for chosen, rejected in preference_pairs(judged, settings.max_per_problem, settings.include_format_failures):
            problem, path, offset, _, _ = by_index[chosen]
            verdict = by_index[rejected][4]
            count(f"synth/pairs.{problem.source}")
            yield beam.pvalue.TaggedOutput(PAIRS, PreferencePair(
                problem, prompt, _generation(by_index[chosen][3]), _generation(by_index[rejected][3]),
                verdict.verifier, verdict.reason, self.config.backend.model, self.config.template, path, offset))

    def process(self, keyed) -> Iterator:
        _, items = keyed
        items = sorted(items, key=lambda it: it[3].index)
        c = self.config
        rate, kept, not_kept = select({it[3].index: it[4].reason is None for it in items}, c.keep_per_problem,
                                      c.min_pass_rate, c.max_pass_rate)
        source = items[0][0].source if items else "unknown"
        # report.json shows these counters: acceptance per source and a pass-rate histogram
        count(f"synth/problems.{source}")
        count(f"synth/pass_rate.{min(int(rate * 10), 9) / 10:.1f}")
        count(f"synth/accepted.{source}", len(kept))
        template = load_template(c.template)
        provenance = {"model": c.backend.model, "template_version": c.template, "sampling": c.sampling.model_dump(),
                      "seed": c.sampling.seed, "pass_rate": rate}
        if c.judge is not None and items and items[0][0].kind == "open":
            provenance.update(judge_model=c.judge.backend.model, judge_template=c.judge.template)
        if c.preference_pairs is not None:
            yield from self._pairs(items, template.messages(items[0][0]) if items else [])
        for problem, path, offset, sample, verdict in items:
            sample_id = f"{problem.id}#{sample.index}"
            reason = verdict.reason or not_kept.get(sample.index)
            if reason is None and sample.index in kept:
                count(f"{verdict.verifier}/kept")
                yield SftSample(sample_id, problem, template.messages(problem), sample.text,
                                {**provenance, "sample_index": sample.index}, path, offset, verdict.verifier,
                                verdict.predicted)
                continue
            step = "selection" if verdict.reason is None else verdict.verifier
            count(f"{step}/removed.{reason}")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(
                sample_id, STAGE, step, reason, path, offset, None, {"synth.pass_rate": rate},
                detail=verdict.detail))
