"""Judge one sample: trace checks, then the verifier for its problem kind. Shared by `synth` and `verify`."""

from __future__ import annotations

from dataclasses import dataclass

from synth.code_verifier import verify_code
from synth.math_verifier import MathVerifier
from synth.problems import Problem
from synth.traces import format_problem


@dataclass(frozen=True)
class Judgement:
    """Accepted when `reason` is None; `verifier` names the check that decided."""

    verifier: str
    reason: str | None
    predicted: str | None = None
    detail: str | None = None


def judge(problem: Problem, completion: str, finish_reason: str | None, math: MathVerifier) -> Judgement:
    """Truncated generations and malformed traces are rejected before any answer is checked."""
    if finish_reason == "length":
        return Judgement("trace_format", "truncated")
    reason = format_problem(completion)
    if reason is not None:
        return Judgement("trace_format", reason)
    if problem.kind == "math":
        verdict = math.verify(problem.reference or "", completion)
        return Judgement("math_verify_v1", verdict.reason, verdict.predicted,
                         f"reference={problem.reference!r} predicted={verdict.predicted!r}")
    result = verify_code(problem, completion)
    return Judgement("code_tests_v1", result.reason, None, result.output_tail[-300:] or None)
