"""Checks on a generated trace before its answer is verified (R1's filters on distillation data):
think/answer format, length, language mixing, degenerate repetition."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpusmill.core import text_units
from corpusmill.core.repetition import duplicate_ngram_chars
from corpusmill.schemas.config import TraceChecksConfig

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
    answers = {a.strip() for a in _boxed_contents(completion.rsplit(THINK_CLOSE, 1)[-1])}
    if len(answers) > 1:
        return "multiple_final_answers"
    return None


_FENCED = re.compile(r"```.*?(?:```|$)", re.DOTALL)


def reasoning_text(completion: str, code: bool) -> str:
    """The prose of a completion, where a looping model shows: the <think> block when there is one, else
    the text outside fenced code; for a code answer without either, nothing (it is all program)."""
    if THINK_CLOSE in completion:
        return _FENCED.sub(" ", completion.split(THINK_CLOSE, 1)[0])
    if code and "```" not in completion:
        return ""
    return _FENCED.sub(" ", completion)


def _boxed_contents(text: str) -> list[str]:
    """Contents of every \\boxed{...} (balanced braces) in text."""
    out, start = [], text.find("\\boxed{")
    while start >= 0:
        i = start + len("\\boxed{")
        depth = 1
        j = i
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        out.append(text[i : j - 1])
        start = text.find("\\boxed{", j)
    return out


@dataclass(frozen=True)
class TraceChecks:
    """Length, language-consistency and repetition limits on a trace (limits and defaults: TraceChecksConfig)."""

    limits: TraceChecksConfig = field(default_factory=TraceChecksConfig)

    def problem(self, prompt: str, completion: str, identify, code: bool = False, reasoning: bool = True
                ) -> str | None:
        """A reason code, or None. `identify(text) -> (lang, score)` is a language identifier; `code` says the
        answer is a program, whose repeated lines are no sign of a degenerate trace; without `reasoning` (a
        plain answer to an open request) no think format is asked for."""
        limits = self.limits
        reason = format_problem(completion) if reasoning else None
        if reason is not None:
            return reason
        if len(completion) > limits.max_chars:
            return "too_long"
        reasoning = reasoning_text(completion, code)
        words = text_units.words(reasoning, None)
        if len(words) >= 50 and duplicate_ngram_chars(words, 10) / len(reasoning) > limits.max_duplicate_10gram_frac:
            return "repetitive"
        if limits.language_consistency:
            prompt_lang, prompt_score = identify(prompt)
            trace_lang, trace_score = identify(completion)
            if (prompt_lang != trace_lang and prompt_score >= limits.min_lid_score
                    and trace_score >= limits.min_lid_score):
                return "language_mixing"
        return None
