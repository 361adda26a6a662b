"""Math answers checked with math-verify in time-limited helper processes."""

import json
from pathlib import Path

import pytest

from corpusmill.synth.verifiers.math_answers import (
    MathVerifier,
    final_answer_text,
    last_boxed,
    mixed_numbers_as_sums,
    reference_answer,
)

TRACES = Path(__file__).parent / "data" / "traces" / "r1_think_tagged_math_10.jsonl"


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(workers=2, timeout_s=20)
    yield v
    v.close()


def test_answer_extraction():
    assert last_boxed(r"so \boxed{\frac{1}{2}} and then \boxed{x^{2}}") == "x^{2}"
    assert last_boxed("no box") is None
    assert reference_answer("She makes 9 * 2 = $18.\n#### 1,800", "gsm8k") == "1800"
    assert reference_answer(r"Thus $\boxed{420}$.", "math") == "420"
    assert final_answer_text("<think>maybe \\boxed{3}</think>\nThe answer is \\boxed{4}.") == "$4$"
    assert final_answer_text("She has 5 left.\nA: 5") == "5"
    assert mixed_numbers_as_sums(r"12\frac{3}{5}") == r"(12+\frac{3}{5})"
    assert mixed_numbers_as_sums(r"x^2\frac{1}{2}") == r"x^2\frac{1}{2}"


def test_real_r1_traces_verify(verifier):
    rows = [json.loads(line) for line in TRACES.read_text().splitlines()]
    verdicts = verifier.verify_many([(r["gt_answer"], r["completion"]) for r in rows])
    assert [v.correct for v in verdicts] == [True] * len(rows)


def test_equivalent_forms_and_wrong_answers(verifier):
    assert verifier.verify(r"\frac{1}{2}", r"Therefore \boxed{0.5}").correct
    assert verifier.verify(r"12\frac{3}{5}", r"The mixed number is \(\boxed{12 \frac{3}{5}}\).").correct
    assert verifier.verify("18", "Janet makes 9 * 2 = 18 dollars.\n#### 18").correct
    wrong = verifier.verify("3", r"the answer is \boxed{4}")
    assert not wrong.correct and wrong.reason == "wrong_answer" and wrong.predicted == "4"
    assert verifier.verify("3", "I cannot solve this.").reason in ("no_answer", "wrong_answer")
