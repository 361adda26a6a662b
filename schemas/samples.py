"""Records of synthesis and verification: problems, generations, cached samples and SFT samples.

Each SFT sample maps 1:1 onto a row of tables.SFT_SCHEMA; cached samples are the lines of the
generation cache (synth/cache.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, get_args

ProblemFormat = Literal["gsm8k", "math", "mbpp", "humaneval", "leetcode"]
FORMATS: tuple[str, ...] = get_args(ProblemFormat)
CODE_FORMATS = frozenset({"mbpp", "humaneval", "leetcode"})  # checked by running tests; the others by answer
OPEN_FORMAT = "open"  # free-form requests from a field mapping, checked by a judge model


@dataclass(frozen=True)
class Problem:
    """One problem: the prompt shown to the model and what its answer is checked against.

    `id` is `<source>/<local_id>`: unique across the sources of a run, where `local_id` (the record's
    own id, or its index in the file) is unique only within its source."""

    id: str
    source: str
    format: ProblemFormat | Literal["open"]
    prompt: str
    reference: str | None = None  # math: the gold final answer
    tests: str | None = None  # code: test code run after the solution
    setup: str | None = None  # code: run before the solution (MBPP test_setup_code)
    stub: str | None = None  # code: the signature or class the solution continues (HumanEval, LeetCode)
    entry_point: str | None = None
    local_id: str = ""

    @property
    def kind(self) -> Literal["math", "code", "open"]:
        if self.format == OPEN_FORMAT:
            return "open"
        return "code" if self.format in CODE_FORMATS else "math"


@dataclass(frozen=True)
class Generation:
    """One sampled completion."""

    text: str
    finish_reason: str | None
    index: int


@dataclass(frozen=True)
class GenerationFailed:
    """A request that failed after every retry, with the last error."""

    error: str


@dataclass(frozen=True)
class CachedSample:
    """One generation as stored in the generation cache."""

    key: str
    problem_id: str
    index: int
    text: str
    finish_reason: str | None


@dataclass(frozen=True)
class SftSample:
    """An accepted sample: one row of the SFT table."""

    id: str
    problem: Problem
    prompt_messages: list[dict]
    completion: str
    provenance: dict  # model, template_version, sampling, seed, sample_index, pass_rate (as known)
    input_file: str
    input_offset: int | None
    verifier: str
    predicted: str | None

    @property
    def sort_key(self) -> str:
        return self.id

    def to_row(self) -> dict:
        p = self.provenance
        sampling, seed, index = p.get("sampling"), p.get("seed"), p.get("sample_index")
        return {
            "id": self.id, "problem_id": self.problem.id, "source": self.problem.source,
            "format": self.problem.format,
            "messages": [*self.prompt_messages, {"role": "assistant", "content": self.completion}],
            "model": p.get("model"), "template_version": p.get("template_version"),
            "sampling": json.dumps(sampling, sort_keys=True) if sampling is not None else None,
            "seed": seed if isinstance(seed, int) else None, "sample_index": index if isinstance(index, int) else None,
            "pass_rate": p.get("pass_rate"), "verifier": self.verifier, "predicted": self.predicted,
            "judge_model": p.get("judge_model"), "judge_template": p.get("judge_template"),
            "input_file": self.input_file, "input_offset": self.input_offset,
        }


@dataclass(frozen=True)
class PreferencePair:
    """A DPO pair of one problem: a verified sample (chosen) and a rejected one, with why it was rejected;
    one row of tables.PAIRS_SCHEMA."""

    problem: Problem
    prompt_messages: list[dict]
    chosen: Generation
    rejected: Generation
    rejected_verifier: str
    rejected_reason: str
    model: str | None
    template_version: str | None
    input_file: str
    input_offset: int | None

    @property
    def sort_key(self) -> str:
        return f"{self.problem.id}#{self.chosen.index}-{self.rejected.index}"

    def to_row(self) -> dict:
        return {
            "id": self.sort_key, "problem_id": self.problem.id, "source": self.problem.source,
            "prompt": self.prompt_messages,
            "chosen": [{"role": "assistant", "content": self.chosen.text}],
            "rejected": [{"role": "assistant", "content": self.rejected.text}],
            "chosen_index": self.chosen.index, "rejected_index": self.rejected.index,
            "rejected_verifier": self.rejected_verifier, "rejected_reason": self.rejected_reason,
            "model": self.model, "template_version": self.template_version,
            "input_file": self.input_file, "input_offset": self.input_offset,
        }
