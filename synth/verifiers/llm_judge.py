"""A judge model for answers no rule can check: the judge template's messages go to a generation backend
(vLLM in-process or any OpenAI-compatible server) and its score is parsed strictly.

Strict means the judgment's last non-empty line is `SCORE: <integer>` inside the template's scale, and
nothing else counts: a judge that answers in prose, gives two scores or a fraction has said nothing, so
it is asked again (another seed), and when every attempt is malformed the sample gets no verdict at all
(a verifier failure: an error row that the next run judges again), never an acceptance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpusmill.schemas.config import JudgeConfig, SamplingConfig
from corpusmill.schemas.samples import GenerationFailed, Problem
from corpusmill.synth.prompts import JudgeTemplate, load_judge_template

VERIFIER = "llm_judge_v1"
_SCORE_LINE = re.compile(r"SCORE:\s*(\d{1,3})")


def parse_score(judgment: str, low: int, high: int) -> int | None:
    """The score of a judgment whose last non-empty line is exactly `SCORE: n` with low <= n <= high."""
    lines = [line.strip() for line in judgment.strip().splitlines() if line.strip()]
    if not lines:
        return None
    found = _SCORE_LINE.fullmatch(lines[-1].strip("*` "))
    if found is None or len(_SCORE_LINE.findall(judgment)) != 1:  # two scores: which one did it mean?
        return None
    score = int(found.group(1))
    return score if low <= score <= high else None


@dataclass(frozen=True)
class JudgeVerdict:
    score: int | None  # None: no parseable judgment after every attempt, or the backend failed
    reason: str | None  # None: accepted; else below_min_score, judge_malformed, judge_unavailable
    attempts: int
    last_judgment: str


class LlmJudge:
    """Scores (problem, answer) pairs with a judge model through `backend` (anything with `generate`)."""

    def __init__(self, config: JudgeConfig, backend):
        self.config = config
        self.template: JudgeTemplate = load_judge_template(config.template)
        self.backend = backend

    def judge(self, problem: Problem, response: str) -> JudgeVerdict:
        messages = self.template.messages(problem, response)
        last = ""
        for attempt in range(self.config.attempts):
            # greedy first; a malformed judgment is asked again with another seed and some temperature
            params = SamplingConfig(n=1, temperature=0.0 if attempt == 0 else 0.7, top_p=1.0,
                                    max_tokens=self.config.max_tokens, seed=self.config.seed + attempt)
            [result] = self.backend.generate([messages], params)
            if isinstance(result, GenerationFailed):
                return JudgeVerdict(None, "judge_unavailable", attempt + 1, result.error)
            last = result[0].text if result else ""
            score = parse_score(last, self.template.min_score, self.template.max_score)
            if score is not None:
                reason = None if score >= self.config.min_score else "below_min_score"
                return JudgeVerdict(score, reason, attempt + 1, last)
        return JudgeVerdict(None, "judge_malformed", self.config.attempts, last)
