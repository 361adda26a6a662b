"""`corpusmill verify` end to end: real R1 traces and code problems, bad records, the SFT output."""

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli

TRACES = Path(__file__).parent / "data" / "traces" / "r1_think_tagged_math_10.jsonl"


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_math_generations_are_verified(tmp_path):
    rows = [json.loads(line) for line in TRACES.read_text().splitlines()]
    problems = _write(tmp_path / "problems.jsonl",
                      [{"id": r["id"], "problem": r["problem"], "answer": r["gt_answer"]} for r in rows])
    first = rows[0]["id"]
    gens = _write(tmp_path / "gens.jsonl", [
        *({"problem_id": r["id"], "completion": r["completion"], "model": r["model"], "seed": 7} for r in rows),
        {"problem_id": first, "completion": "<think>quick</think>\nThe answer is \\boxed{12345}."},
        {"problem_id": first, "completion": "<think>never closed"},
        {"problem_id": "no-such-problem", "completion": "x"},
        "{not json",
    ])
    out = tmp_path / "out"
    assert run_cli("verify", "--problems", str(problems), "--generations", str(gens), "--output", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["inputs"], report["kept"], report["removed"], report["errors"]) == (14, 10, 2, 2)
    assert report["accounting_ok"]
    removed = {r["reason"] for r in pq.read_table(out / "removed").to_pylist()}
    assert removed == {"wrong_answer", "bad_think_format"}
    sft = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == 10
    sample = sft[0]
    assert [m["role"] for m in sample["messages"]] == ["user", "assistant"]
    assert sample["verifier"] == "math_verify_v1" and sample["seed"] == 7 and sample["format"] == "math"
    assert pq.read_table(out / "documents").schema.metadata[b"table"] == b"sft"


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists(),
                    reason="the code sandbox needs root (to drop to uid 65534) and /usr/bin/python3")
def test_code_generations_run_their_tests(tmp_path):
    problems = _write(tmp_path / "problems.jsonl", [{
        "task_id": "Local/0", "entry_point": "add",
        "prompt": 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n',
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"}])
    gens = _write(tmp_path / "gens.jsonl", [
        {"problem_id": "Local/0", "completion": "    return a + b\n"},
        {"problem_id": "Local/0", "completion": "```python\ndef add(a, b):\n    return a + b\n```"},
        {"problem_id": "Local/0", "completion": "    return a * b\n"},
    ])
    out = tmp_path / "out"
    assert run_cli("verify", "--problems", str(problems), "--generations", str(gens), "--output", str(out),
                   "--format", "humaneval") == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["kept"], report["removed"]) == (2, 1)
    assert report["removed_by_reason"] == {"verify/code_tests_v1/tests_fail": 1}


def test_missing_files_exit_2(tmp_path, capsys):
    assert run_cli("verify", "--problems", str(tmp_path / "p.jsonl"), "--generations", str(tmp_path / "g.jsonl"),
                   "--output", str(tmp_path / "out")) == 2
    assert "--problems: file not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
