"""Code answers: build the program (solution + tests) from a completion, run it in the sandbox."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpusmill.schemas.samples import Problem
from corpusmill.synth.verifiers.sandbox import SandboxLimits, SandboxResult, run_python

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
# LeetCode stubs use these names without importing them.
LEETCODE_PRELUDE = ("from typing import *\nfrom collections import *\nfrom functools import *\n"
                    "from itertools import *\nfrom heapq import *\nfrom bisect import *\nimport math\n")


@dataclass(frozen=True)
class CodeVerdict:
    """Whether the solution passed its tests, with the sandbox's report (`reason` a snake_case code,
    `detail` its free text; `verifier_failed` when the sandbox itself failed, not the program)."""

    passed: bool
    status: str
    output_tail: str
    reason: str | None = None
    detail: str | None = None
    verifier_failed: bool = False


def extract_code(completion: str) -> str:
    """The code of a completion: the last fenced block after any </think>, else the text itself."""
    body = completion.rsplit("</think>", 1)[-1]
    blocks = _FENCE.findall(body)
    return blocks[-1] if blocks else body


def solution_program(problem: Problem, completion: str) -> str:
    """The solution as a program: a whole program, a fenced block, or a body continuing the stub."""
    code = extract_code(completion)
    if problem.format == "humaneval":
        if f"def {problem.entry_point}" not in code:
            code = problem.stub + code  # the completion continues the function body
        return code
    if problem.format == "leetcode":
        if "class Solution" not in code:
            code = problem.stub + code
        return LEETCODE_PRELUDE + code
    return code


def verify_code(problem: Problem, completion: str, limits: SandboxLimits | None = None) -> CodeVerdict:
    """Run the solution with the problem's tests in the sandbox; passed means every test passed."""
    program = "\n".join(part for part in (problem.setup, solution_program(problem, completion), problem.tests)
                        if part) + "\n"
    result: SandboxResult = run_python(program, limits)
    return CodeVerdict(result.status == "pass", result.status, result.output_tail, result.reason, result.detail,
                       result.sandbox_failed)
