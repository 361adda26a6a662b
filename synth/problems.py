"""Problem sets for synthesis and verification: GSM8K, MATH, MBPP, HumanEval and LeetCode records.

The format is recognised from a record's fields, or given. Each record becomes a Problem
with what a verifier needs: a reference answer (math) or a test program (code).
"""

from __future__ import annotations

from corpusmill.schemas.config import ProblemFieldsConfig
from corpusmill.schemas.samples import FORMATS, OPEN_FORMAT, Problem, ProblemFormat
from corpusmill.synth.verifiers.math_answers import reference_answer

ID_FIELDS = ("id", "task_id", "problem_id", "idx", "unique_id")


def detect_format(row: dict) -> ProblemFormat | None:
    """The problem format implied by a record's fields, or None."""
    if "test_list" in row:
        return "mbpp"
    if "entry_point" in row and "test" in row:
        return "humaneval"
    if "prompt" in row and "Solution()" in str(row.get("test", "")):
        return "leetcode"
    if "question" in row and "####" in str(row.get("answer", "")):
        return "gsm8k"
    if "problem" in row and ("answer" in row or "solution" in row):
        return "math"
    return None


def _mapped(row: dict, index: int, source: str, fields: ProblemFieldsConfig) -> Problem:
    own_id = row.get(fields.id) if fields.id else None
    pid, local = _ids(own_id, index, source)
    prompt = _field(row, fields.prompt, "mapped")
    if fields.kind == "open":  # a judge model checks the answer; a reference answer helps it when given
        answer = row.get(fields.answer) if fields.answer else None
        return Problem(pid, source, OPEN_FORMAT, prompt, reference=str(answer) if answer not in (None, "") else None,
                       local_id=local)
    if fields.kind == "math":
        answer = row.get(fields.answer or "")
        if answer in (None, ""):
            raise ValueError(f"mapped math problem needs its answer field {fields.answer!r}")
        return Problem(pid, source, "math", prompt, reference=str(answer), local_id=local)
    tests = row.get(fields.tests or "")
    if isinstance(tests, list):
        tests = "\n".join(map(str, tests))
    if not isinstance(tests, str) or not tests.strip():
        raise ValueError(f"mapped code problem needs its tests field {fields.tests!r}")
    return Problem(pid, source, "mbpp", prompt, tests=tests, local_id=local)


def _ids(own_id: object, index: int, source: str) -> tuple[str, str]:
    """(id namespaced by source, id within the source): the record's own id, else its index."""
    local = str(own_id) if own_id not in (None, "") else str(index)
    return f"{source}/{local}", local


def _field(row: dict, name: str, fmt: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{fmt} problem needs a non-empty string field {name!r}")
    return value


def problem_from_row(row: dict, index: int, source: str, fmt: ProblemFormat | None = None,
                     fields: ProblemFieldsConfig | None = None) -> Problem:
    """A Problem from one record; ValueError names the missing or malformed field."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if fields is not None:
        return _mapped(row, index, source, fields)
    fmt = fmt or detect_format(row)
    if fmt is None:
        raise ValueError(f"cannot tell the problem format from fields {sorted(row)}; pass --format one of "
                         + ", ".join(FORMATS))
    own_id = next((row[k] for k in ID_FIELDS if row.get(k) not in (None, "")), None)
    pid, local = _ids(own_id, index, source)
    if fmt == "gsm8k":
        return Problem(pid, source, fmt, _field(row, "question", fmt),
                       reference=reference_answer(_field(row, "answer", fmt), "gsm8k"), local_id=local)
    if fmt == "math":
        answer = row.get("answer")
        ref = str(answer) if answer not in (None, "") else reference_answer(_field(row, "solution", fmt), "math")
        return Problem(pid, source, fmt, _field(row, "problem", fmt), reference=ref, local_id=local)
    if fmt == "mbpp":
        tests = row.get("test_list")
        if not isinstance(tests, list) or not tests:
            raise ValueError("mbpp problem needs a non-empty list field 'test_list'")
        return Problem(pid, source, fmt, _field(row, "text", fmt), tests="\n".join(tests),
                       setup=row.get("test_setup_code") or None, local_id=local)
    if fmt == "humaneval":
        entry = _field(row, "entry_point", fmt)
        prompt = _field(row, "prompt", fmt)
        return Problem(pid, source, fmt, prompt, tests=_field(row, "test", fmt) + f"\n\ncheck({entry})\n",
                       stub=prompt, entry_point=entry, local_id=local)
    prompt = _field(row, "prompt", fmt)
    return Problem(pid, source, fmt, row.get("prompt_sft") or prompt, tests=_field(row, "test", fmt), stub=prompt,
                   local_id=local)
