"""Verifiers on real data: agreement with provided correctness labels, and throughput on 2 cores.

- math: math-verify (synth/verifiers/math_answers.py) on Qwen2.5-Math's 95 MATH problems x 8 sampled
  solutions and on OpenAI's GPT-3 GSM8K solutions, each against the file's own labels;
  the DeepSeek-R1 traces (all correct) must verify.
- code: the MBPP reference solutions run with their tests in the sandbox (synth/verifiers/sandbox.py),
  and the same tests against deliberately broken solutions must fail.

Reads ../shared/data (and says so when it is not there).

    .venv/bin/python bench/verify.py [--limit-gsm8k 300] [--limit-mbpp 974]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from corpusmill.synth.problems import problem_from_row  # noqa: E402
from corpusmill.synth.verifiers.code_tests import verify_code  # noqa: E402
from corpusmill.synth.verifiers.math_answers import MathVerifier, reference_answer  # noqa: E402
from corpusmill.synth.verifiers.sandbox import SandboxLimits, sandbox_problem  # noqa: E402


def _agreement(name: str, pairs: list[tuple[str, str]], labels: list[bool], verifier: MathVerifier) -> None:
    started = time.perf_counter()
    verdicts = verifier.verify_many(pairs)
    seconds = time.perf_counter() - started
    agree = sum(v.correct == label for v, label in zip(verdicts, labels, strict=True))
    print(f"{name}: {agree}/{len(labels)} agree with the labels ({100 * agree / len(labels):.1f}%), "
          f"{len(labels) / seconds:.0f} checks/s")
    shown = 0
    for (ref, completion), v, label in zip(pairs, verdicts, labels, strict=True):
        if v.correct != label and shown < 8:
            shown += 1
            print(f"   label={label} ours={v.correct} ({v.reason}) reference={ref!r} read={v.predicted!r} "
                  f"tail={completion[-80:]!r}")


def math_checks(verifier: MathVerifier, limit_gsm8k: int) -> None:
    traces = SHARED / "reasoning_traces"
    pairs, labels = [], []
    for line in (traces / "qwen25math_math_test_cot_95x8.jsonl").read_text().splitlines():
        row = json.loads(line)
        for response, score in zip(row["code"], row["score"], strict=True):
            pairs.append((row["gt"], response))
            labels.append(bool(score))
    _agreement("Qwen2.5-Math MATH 95x8", pairs, labels, verifier)

    pairs, labels = [], []
    for line in (traces / "gsm8k_gpt3_example_model_solutions.jsonl").read_text().splitlines()[:limit_gsm8k]:
        row = json.loads(line)
        reference = reference_answer(row["ground_truth"], "gsm8k")
        for key in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            sample = row[key] if isinstance(row[key], dict) else ast.literal_eval(row[key])
            pairs.append((reference, sample["solution"]))
            labels.append(bool(sample["is_correct"]))
    _agreement(f"GPT-3 GSM8K solutions (first {limit_gsm8k} problems x 4)", pairs, labels, verifier)

    rows = [json.loads(line) for line in (traces / "r1_think_tagged_math_10.jsonl").read_text().splitlines()]
    _agreement("DeepSeek-R1 traces (all correct)", [(r["gt_answer"], r["completion"]) for r in rows],
               [True] * len(rows), verifier)


def _broken(task: dict) -> str:
    name = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:set\()?(?:math\.isclose\()?([A-Za-z_]\w*)\s*\(",
                     task["test_list"][0])
    return task["code"] + f"\n\ndef {name.group(1) if name else 'unused'}(*args, **kwargs):\n    return None\n"


def code_checks(limit: int) -> None:
    tasks = [json.loads(line) for line in (SHARED / "code/mbpp/mbpp.jsonl").read_text().splitlines()][:limit]
    problems = [problem_from_row(t, i, "mbpp") for i, t in enumerate(tasks)]
    if (problem := sandbox_problem()) is not None:
        print(f"MBPP: skipped, {problem}")
        return
    limits = SandboxLimits(cpu_s=10, wall_s=20)
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        pairs = list(zip(problems, tasks, strict=True))
        results = list(pool.map(lambda pt: verify_code(pt[0], pt[1]["code"], limits), pairs))
        broken = list(pool.map(lambda pt: verify_code(pt[0], _broken(pt[1]), limits), pairs))
    seconds = time.perf_counter() - started
    passed = [t["task_id"] for t, r in zip(tasks, results, strict=True) if r.passed]
    print(f"MBPP reference solutions: {len(passed)}/{len(tasks)} pass in the sandbox "
          f"; {2 * len(tasks) / seconds:.1f} sandbox runs/s on 2 workers")
    for t, r in zip(tasks, results, strict=True):
        if not r.passed:
            last = r.output_tail.strip().splitlines()[-1:] or [""]
            print(f"   task {t['task_id']}: {r.status} {r.reason or ''} {last[0][:150]!r}")
    still_pass = [t["task_id"] for t, r in zip(tasks, broken, strict=True) if r.passed]
    print(f"broken solutions (function replaced by one returning None): {len(tasks) - len(still_pass)}/"
          f"{len(tasks)} fail; still passing: {still_pass[:20]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-gsm8k", type=int, default=1319)
    parser.add_argument("--limit-mbpp", type=int, default=974)
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"{SHARED} is not here: this benchmark needs the shared data set; nothing measured")
        return
    verifier = MathVerifier(workers=2, timeout_s=10)
    try:
        math_checks(verifier, args.limit_gsm8k)
    finally:
        verifier.close()
    code_checks(args.limit_mbpp)


if __name__ == "__main__":
    main()
