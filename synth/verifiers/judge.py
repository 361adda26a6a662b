"""Judge one sample: trace checks, then the verifier for its problem kind. Shared by `synth` and `verify`."""

from __future__ import annotations

from dataclasses import dataclass

from corpusmill.schemas.samples import Problem
from corpusmill.synth.verifiers.code_tests import verify_code
from corpusmill.synth.verifiers.llm_judge import VERIFIER as LLM_JUDGE
from corpusmill.synth.verifiers.llm_judge import LlmJudge
from corpusmill.synth.verifiers.math_answers import MathVerifier
from corpusmill.synth.verifiers.traces import TraceChecks


@dataclass(frozen=True)
class Judgement:
    """Accepted when `reason` is None; `verifier` names the check that decided. With `verifier_failed`
    the check itself failed (sandbox or helper): no verdict on the sample, which is judged again later."""

    verifier: str
    reason: str | None
    predicted: str | None = None
    detail: str | None = None
    verifier_failed: bool = False


def judge(problem: Problem, completion: str, finish_reason: str | None, math: MathVerifier,
          checks: TraceChecks | None = None, identify=None, llm_judge: LlmJudge | None = None) -> Judgement:
    """Truncated generations and traces failing the checks are rejected before any answer is checked.

    Without `identify` (a language identifier) the language-consistency check is skipped. Open problems
    (no rule to check) go to `llm_judge`.
    """
    if finish_reason == "length":
        return Judgement("trace_format", "truncated")
    checks = checks or TraceChecks()
    if identify is None:
        checks = TraceChecks(checks.limits.model_copy(update={"language_consistency": False}))
    reason = checks.problem(problem.prompt, completion, identify, code=problem.kind == "code",
                            reasoning=problem.kind != "open")
    if reason is not None:
        return Judgement("trace_format", reason)
    if problem.kind == "open":
        return _judged_by_model(problem, completion, llm_judge)
    if problem.kind == "math":
        verdict = math.verify(problem.reference or "", completion)
        detail = verdict.detail or f"reference={problem.reference!r} predicted={verdict.predicted!r}"
        return Judgement("math_verify_v1", verdict.reason, verdict.predicted, detail, verdict.verifier_failed)
    result = verify_code(problem, completion)
    detail = " | ".join(part for part in (result.detail, result.output_tail[-300:].strip()) if part) or None
    return Judgement("code_tests_v1", result.reason, None, detail, result.verifier_failed)


def _judged_by_model(problem: Problem, completion: str, llm_judge: LlmJudge | None) -> Judgement:
    """A malformed judgment or an unreachable judge is a failure of the verifier, never a verdict."""
    if llm_judge is None:
        return Judgement(LLM_JUDGE, "no_judge_configured", verifier_failed=True)
    verdict = llm_judge.judge(problem, completion)
    if verdict.score is None:
        return Judgement(LLM_JUDGE, verdict.reason, None,
                         f"after {verdict.attempts} attempts: {verdict.last_judgment[-500:]!r}", verifier_failed=True)
    return Judgement(LLM_JUDGE, verdict.reason, f"score={verdict.score}",
                     f"score={verdict.score} (min {llm_judge.config.min_score}), attempts {verdict.attempts}")
