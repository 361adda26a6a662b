"""`corpusmill verify` end to end: real R1 traces and code problems, bad records, the SFT output."""

import json
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
    sft = [json.loads(line) for line in (out / "sft" / "part-00000-of-00001.jsonl").read_text().splitlines()]
    assert len(sft) == 10
    sample = sft[0]
    assert [m["role"] for m in sample["messages"]] == ["user", "assistant"]
    assert sample["verifier"] == "math_verify_v1" and sample["seed"] == 7 and sample["format"] == "math"
    assert pq.read_table(out / "documents").schema.metadata[b"table"] == b"sft"


@pytest.mark.usefixtures("sandbox_ok")
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


MBPP = Path(__file__).parent / "data" / "code" / "mbpp_11-130.jsonl"


def _mbpp_references(path: Path, problems: Path = MBPP) -> Path:
    rows = [json.loads(line) for line in problems.read_text().splitlines()]
    return _write(path, [{"problem_id": str(r["task_id"]), "completion": f"```python\n{r['code']}\n```"}
                         for r in rows])


@pytest.mark.usefixtures("sandbox_ok")
def test_correct_code_is_accepted_every_time_on_the_default_runner(tmp_path):
    """The sandbox starts from Beam's multi_processing workers (gRPC threads) without being broken by them."""
    from corpusmill.pipelines.cli import main

    gens = _mbpp_references(tmp_path / "gens.jsonl")
    for run in ("first", "second"):
        out = tmp_path / run
        assert main(["verify", "--problems", str(MBPP), "--generations", str(gens), "--output", str(out),
                     "--direct_num_workers=2"]) == 0
        report = json.loads((out / "report.json").read_text())
        assert (report["inputs"], report["kept"], report["removed"], report["errors"]) == (120, 120, 0, 0), \
            report["removed_by_reason"]


@pytest.mark.usefixtures("sandbox_ok")
def test_a_sandbox_that_fails_to_start_is_an_error_to_retry_not_a_rejection(tmp_path, monkeypatch):
    from corpusmill.synth.verifiers import sandbox

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(line + "\n" for line in MBPP.read_text().splitlines()[:3]))
    gens = _mbpp_references(tmp_path / "gens.jsonl", problems)
    out = tmp_path / "out"
    working = sandbox._command
    failing = ["sh", "-c", "echo 'bwrap: setting up uid map: denied'; exit 1"]
    monkeypatch.setattr(sandbox, "_command", lambda *args: failing)
    monkeypatch.setattr(sandbox, "START_BACKOFF_S", 0.001)
    assert run_cli("verify", "--problems", str(problems), "--generations", str(gens), "--output", str(out)) == 3
    report = json.loads((out / "report.json").read_text())
    assert (report["kept"], report["removed"], report["errors"]) == (0, 0, 3)
    assert report["errors_by_class"] == {"verify/code_tests_v1/VerifierError": 3}
    assert report["retryable_errors"] == 3 and report["funnel"][-1]["errors"] == 3
    assert json.loads((out / "manifest.json").read_text())["status"] == "retry_needed"
    message = pq.read_table(out / "errors").to_pylist()[0]["message"]
    assert message.startswith("sandbox_start_failed: bwrap: setting up uid map")

    monkeypatch.setattr(sandbox, "_command", working)  # the machinery works again: the same command finishes
    assert run_cli("verify", "--problems", str(problems), "--generations", str(gens), "--output", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["kept"], report["errors"]) == (3, 0)
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_code_problems_without_a_sandbox_stop_before_launch(tmp_path, monkeypatch, capsys):
    from corpusmill.synth.verifiers.sandbox import sandbox_problem

    gens = _mbpp_references(tmp_path / "gens.jsonl")
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    sandbox_problem.cache_clear()
    try:
        code = run_cli("verify", "--problems", str(MBPP), "--generations", str(gens), "--output", str(tmp_path / "o"))
    finally:
        sandbox_problem.cache_clear()
    assert code == 2
    assert "apt-get install bubblewrap" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
