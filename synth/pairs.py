"""Preference pairs for DPO from one problem's judged samples: a verified sample as `chosen`, a sample
the answer check or the tests rejected as `rejected`.

Samples rejected for their form (truncated, no closed <think>, repetition, a switch of language) are
left out of `rejected` unless asked for: a pair with one teaches the model formatting, not correctness,
and a truncated sample is rejected for where the sampler stopped, not for what it says.
"""

from __future__ import annotations

from dataclasses import dataclass

CORRECTNESS_VERIFIERS = ("math_verify_v1", "code_tests_v1")  # their rejections say the answer is wrong
FORMAT_VERIFIER = "trace_format"


@dataclass(frozen=True)
class Judged:
    """One sample of a problem as the pairing sees it."""

    index: int
    verifier: str
    reason: str | None  # None: verified


def preference_pairs(samples: list[Judged], max_pairs: int, include_format_failures: bool = False
                     ) -> list[tuple[int, int]]:
    """(chosen index, rejected index) pairs, at most `max_pairs`: rejected samples in index order, each
    with the next verified sample in index order (round robin), so that one correct answer is not the
    `chosen` side of every pair while others sit unused. Deterministic."""
    rejectable = (*CORRECTNESS_VERIFIERS, *((FORMAT_VERIFIER,) if include_format_failures else ()))
    chosen = sorted(s.index for s in samples if s.reason is None)
    rejected = sorted(s.index for s in samples if s.reason is not None and s.verifier in rejectable)
    if not chosen:
        return []
    return [(chosen[k % len(chosen)], r) for k, r in enumerate(rejected[:max_pairs])]
