"""`corpusmill sft-set`: composition by samples and tokens, prompt dedup, decontamination, selection of the
shortest verified traces, the split, and bad input (short sources, broken conversations)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import DATA, run_cli

TRACES = DATA / "traces" / "r1_think_tagged_math_10.jsonl"
GSM8K = DATA / "eval" / "gsm8k_test_head20.jsonl"
MBPP = DATA / "code" / "mbpp_11-130.jsonl"


def _conversation(user: str, assistant: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _sources(tmp_path: Path) -> dict[str, Path]:
    """Reasoning math (R1 traces, two samples per problem), reasoning code (MBPP), non-reasoning (requests),
    with a duplicate prompt, a benchmark item, and broken conversations."""
    traces = [json.loads(line) for line in TRACES.read_text().splitlines()]
    math = [{"id": f"{t['id']}#{k}", "problem_id": t["id"], "format": "math",
             "messages": _conversation(t["problem"], t["completion"] if k == 0 else t["completion"] + " Double-check.")}
            for t in traces for k in range(2)]
    # the same problem with a sentence more: a near duplicate of the first trace's prompt
    math.append({"id": "near", "problem_id": "near", "format": "math",
                 "messages": _conversation(traces[0]["problem"] + " Show your work.", "<think>x</think> \\boxed{0}")})
    gsm8k = json.loads(GSM8K.read_text().splitlines()[0])
    math.append({"id": "leak", "problem_id": "leak", "format": "gsm8k",
                 "messages": _conversation(gsm8k["question"], "<think>easy</think> \\boxed{18}")})
    code = [{"id": f"mbpp{r['task_id']}", "problem_id": f"mbpp{r['task_id']}", "format": "mbpp",
             "messages": _conversation(r["text"], f"<think>Write it.</think>\n```python\n{r['code']}\n```")}
            for r in map(json.loads, MBPP.read_text().splitlines()[:30])]
    chat = [{"id": f"chat{i}", "messages": _conversation(f"Tell me one fact about the number {i}.",
                                                         f"The number {i} is {'even' if i % 2 == 0 else 'odd'}.")}
            for i in range(20)]
    chat.append({"id": "chat-dup", "messages": _conversation("Tell me one fact about the number 3.", "It is odd.")})
    broken = [{"id": "no-answer", "messages": [{"role": "user", "content": "hi"}]},
              {"id": "empty", "messages": _conversation("hi", "  ")},
              {"id": "no-role", "messages": [{"content": "hi"}, {"role": "assistant", "content": "x"}]}]
    paths = {}
    for name, rows in (("math", math), ("code", code), ("chat", chat + broken)):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in rows) + ("{broken\n" if name == "chat" else ""))
    return paths


def _config(tmp_path: Path, paths: dict[str, Path], composition: str, extra: str = "") -> Path:
    config = tmp_path / "sft.yaml"
    config.write_text(f"""stage: sft-set
sources:
  - {{name: math, paths: ['{paths["math"]}'], kind: reasoning}}
  - {{name: code, paths: ['{paths["code"]}'], kind: reasoning}}
  - {{name: chat, paths: ['{paths["chat"]}'], kind: non_reasoning}}
composition: {composition}
selection: {{max_per_problem: 1}}
decontamination: ['{GSM8K}']
validation_fraction: 0.2
{extra}""")
    return config


def test_composed_by_samples_with_dedup_decontamination_and_shortest_traces(tmp_path):
    paths = _sources(tmp_path)
    out = tmp_path / "out"
    config = _config(tmp_path, paths, "{unit: samples, reasoning_share: 0.75, reasoning_domains: {math: 0.5, "
                                      "code: 0.5}}")
    assert run_cli("sft-set", "--config", str(config), "--output", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    # math: 10 traces of 5 problems (each twice, by two models) x 2 samples, a near duplicate, a GSM8K item;
    # code: 30; chat: 20 + a repeated prompt + 3 broken conversations + a line that is not JSON
    assert (report["inputs"], report["kept"], report["removed"], report["errors"]) == (77, 13, 60, 4)
    assert report["accounting_ok"]
    assert report["removed_by_reason"] == {
        "decontamination_v1/contaminated": 1,
        "prompt_dedup/exact_duplicate": 11,  # 10 samples of the 5 problems asked twice, and the chat prompt
        "prompt_dedup/near_duplicate": 1,
        "selection/over_per_problem_limit": 5,  # the longer sample of each math problem
        "composition/not_sampled": 42}
    # the most the shares allow without repeats: 5 math problems are 0.375 of the set -> 13 samples
    assert {name: (p["available"], p["achieved"]) for name, p in report["parts"].items()} == {
        "reasoning/math": (5, 5), "reasoning/code": (30, 5), "non_reasoning": (20, 3)}
    rows = pq.read_table(out / "train").to_pylist() + pq.read_table(out / "validation").to_pylist()
    assert len(rows) == 13 == report["samples"]["train"] + report["samples"]["validation"]
    math_rows = [r for r in rows if r["source"] == "math"]
    assert all(not r["messages"][-1]["content"].endswith("Double-check.") for r in math_rows)  # the shorter one
    assert {r["domain"] for r in rows} == {"math", "code", "-"}
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows)
    train_prompts = {r["messages"][0]["content"] for r in pq.read_table(out / "train").to_pylist()}
    valid_prompts = {r["messages"][0]["content"] for r in pq.read_table(out / "validation").to_pylist()}
    assert not train_prompts & valid_prompts and valid_prompts
    errors = sorted(e["message"] for e in pq.read_table(out / "errors").to_pylist())
    assert errors[0].startswith("invalid JSON") and errors[1:] == [
        "the assistant turn is empty", "the last turn is 'user', not the assistant's", "turn 0 has no role"]
    assert json.loads((out / "train.jsonl").read_text().splitlines()[0])["messages"]

    again = tmp_path / "again"
    assert run_cli("sft-set", "--config", str(config), "--output", str(again)) == 0
    assert (again / "train" / "part-00000-of-00001.parquet").read_bytes() == \
        (out / "train" / "part-00000-of-00001.parquet").read_bytes()  # deterministic


def test_composed_by_tokens(tmp_path):
    paths = _sources(tmp_path)
    out = tmp_path / "out"
    config = _config(tmp_path, paths, "{unit: tokens, reasoning_share: 0.5, total: 3000, upsample: true}")
    assert run_cli("sft-set", "--config", str(config), "--output", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    parts = report["parts"]
    assert {p["unit"] for p in parts.values()} == {"tokens"}
    assert parts["non_reasoning"]["target"] == 1500
    for part in parts.values():  # each part reaches its target, overshooting by less than one conversation
        assert part["target"] <= part["achieved"] < part["target"] + 2000
    rows = pq.read_table(out / "train").to_pylist() + pq.read_table(out / "validation").to_pylist()
    assert sum(r["num_tokens"] for r in rows) == sum(p["achieved"] for p in parts.values())


def test_asking_more_than_a_source_has_stops_or_upsamples(tmp_path, capsys):
    paths = _sources(tmp_path)
    config = _config(tmp_path, paths, "{unit: samples, total: 400}")
    assert run_cli("sft-set", "--config", str(config), "--output", str(tmp_path / "short")) == 2
    assert "asks for more than the sources have" in capsys.readouterr().err
    config = _config(tmp_path, paths, "{unit: samples, total: 400, upsample: true}")
    out = tmp_path / "up"
    assert run_cli("sft-set", "--config", str(config), "--output", str(out)) == 0
    rows = pq.read_table(out / "train").to_pylist() + pq.read_table(out / "validation").to_pylist()
    assert len(rows) == 400 and max(r["copy"] for r in rows) > 0
    assert len({r["id"] for r in rows}) == 400  # copies have ids of their own
