"""Judge one sample: trace checks, then the verifier for its problem kind. Shared by `synth` and `verify`."""

from __future__ import annotations

from dataclasses import dataclass

from corpusmill.schemas.samples import Problem
from corpusmill.synth.verifiers.code_tests import verify_code
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
          checks: TraceChecks | None = None, identify=None) -> Judgement:
    """Truncated generations and traces failing the checks are rejected before any answer is checked.

    Without `identify` (a language identifier) the language-consistency check is skipped.
    """
    if finish_reason == "length":
        return Judgement("trace_format", "truncated")
    checks = checks or TraceChecks()
    if identify is None:
        checks = TraceChecks(checks.limits.model_copy(update={"language_consistency": False}))
    reason = checks.problem(problem.prompt, completion, identify, code=problem.kind == "code")
    if reason is not None:
        return Judgement("trace_format", reason)
    if problem.kind == "math":
        verdict = math.verify(problem.reference or "", completion)
        detail = verdict.detail or f"reference={problem.reference!r} predicted={verdict.predicted!r}"
        return Judgement("math_verify_v1", verdict.reason, verdict.predicted, detail, verdict.verifier_failed)
    result = verify_code(problem, completion)
    detail = " | ".join(part for part in (result.detail, result.output_tail[-300:].strip()) if part) or None
    return Judgement("code_tests_v1", result.reason, None, detail, result.verifier_failed)
