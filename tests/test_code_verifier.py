"""Problem formats and code verification through the sandbox."""


import pytest

from corpusmill.synth.problems import detect_format, problem_from_row
from corpusmill.synth.verifiers.code_tests import extract_code, solution_program, verify_code
from corpusmill.synth.verifiers.sandbox import SandboxLimits

HUMANEVAL_STYLE = {
    "task_id": "Local/0",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n',
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
}
MBPP_STYLE = {"task_id": 7, "text": "Write a function to double a number.", "code": "def double(x):\n    return 2 * x",
              "test_list": ["assert double(2) == 4", "assert double(0) == 0"], "test_setup_code": ""}
needs_sandbox = pytest.mark.usefixtures("sandbox_ok")


def test_formats_are_recognised_from_fields():
    assert detect_format(HUMANEVAL_STYLE) == "humaneval"
    assert detect_format(MBPP_STYLE) == "mbpp"
    assert detect_format({"question": "q", "answer": "work\n#### 4"}) == "gsm8k"
    assert detect_format({"problem": "p", "solution": r"so \boxed{2}"}) == "math"
    assert detect_format({"prompt": "class Solution:", "test": "my_solution = Solution()"}) == "leetcode"
    gsm = problem_from_row({"question": "q", "answer": "w\n#### 1,024"}, 3, "gsm8k")
    assert (gsm.id, gsm.local_id, gsm.reference, gsm.kind) == ("gsm8k/3", "3", "1024", "math")
    with pytest.raises(ValueError, match="cannot tell the problem format"):
        problem_from_row({"foo": 1}, 0, "x")
    with pytest.raises(ValueError, match="needs a non-empty list field 'test_list'"):
        problem_from_row({**MBPP_STYLE, "test_list": []}, 0, "mbpp", "mbpp")


def test_humaneval_completions_in_three_shapes():
    problem = problem_from_row(HUMANEVAL_STYLE, 0, "local")
    whole = "def add(a, b):\n    return a + b\n"
    fenced = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    body = "    return a + b\n"
    assert extract_code(fenced).strip() == whole.strip()
    for completion in (whole, fenced, body):
        assert "return a + b" in solution_program(problem, completion)
        assert solution_program(problem, completion).count("def add") == 1


@needs_sandbox
def test_solutions_pass_and_broken_ones_fail():
    he = problem_from_row(HUMANEVAL_STYLE, 0, "local")
    assert verify_code(he, "    return a + b\n").passed
    assert verify_code(he, "<think>easy</think>\n```python\ndef add(a, b):\n    return a + b\n```").passed
    wrong = verify_code(he, "    return a - b\n")
    assert not wrong.passed and wrong.status == "fail" and "AssertionError" in wrong.output_tail
    mbpp = problem_from_row(MBPP_STYLE, 0, "mbpp")
    assert verify_code(mbpp, MBPP_STYLE["code"]).passed
    assert not verify_code(mbpp, "def double(x):\n    return x").passed
    loop = verify_code(mbpp, "def double(x):\n    while True:\n        pass", SandboxLimits(cpu_s=1, wall_s=5))
    assert not loop.passed and loop.status == "timeout"
