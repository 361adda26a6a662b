"""Checks on a generated trace before its answer is verified."""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def format_problem(completion: str) -> str | None:
    """A reason code when the completion is unusable as a training sample, else None.

    Empty completions are rejected; an R1-style trace must close its single <think>
    block exactly once and say something after it.
    """
    if not completion.strip():
        return "empty_completion"
    if THINK_OPEN in completion or THINK_CLOSE in completion:
        if completion.count(THINK_CLOSE) != 1 or completion.count(THINK_OPEN) > 1:
            return "bad_think_format"
        if not completion.split(THINK_CLOSE, 1)[1].strip():
            return "no_answer_after_think"
    return None
