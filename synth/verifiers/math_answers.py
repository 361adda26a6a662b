"""Math answer verification with math-verify, each check in a helper process with a hard time limit.

math-verify's own timeouts use signal.alarm, which only works in a main thread; Beam
runs DoFns in worker threads. So every check runs in the main thread of a spawned helper
(core/helper_process.TimeLimitedCall) that is killed and replaced when a check exceeds
`timeout_s`; a pool of helpers serves concurrent checks.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Queue
from typing import Literal

from corpusmill.core.helper_process import WARM_UP, HelperCallFailed, HelperCrashed, TimeLimitedCall

AnswerFormat = Literal["gsm8k", "math", "plain"]
_GSM8K_FINAL = re.compile(r"(?:####|\bA:)\s*([^\n]+)\s*$")
# "12\frac{3}{5}" is a mixed number in MATH answers; math-verify reads it as a product.
_MIXED_NUMBER = re.compile(r"(?<![\w.}^])(\d+)\s*\\[dt]?frac\{(\d+)\}\{(\d+)\}")


def mixed_numbers_as_sums(text: str) -> str:
    """Rewrite mixed numbers such as 12\\frac{3}{5} as (12+\\frac{3}{5})."""
    return _MIXED_NUMBER.sub(r"(\1+\\frac{\2}{\3})", text)


@dataclass(frozen=True)
class MathVerdict:
    """Whether a completion's final answer equals the reference, and what was read from it."""

    correct: bool
    predicted: str | None
    # no_answer, wrong_answer; verifier_timeout and verifier_error are failures of the checker itself
    reason: str | None = None
    detail: str | None = None

    @property
    def verifier_failed(self) -> bool:
        return self.reason in ("verifier_timeout", "verifier_error")


def reference_answer(answer: str, fmt: AnswerFormat) -> str:
    """The gold answer: after `####` (GSM8K), the last \\boxed{} (MATH), or the text as it is."""
    if fmt == "gsm8k":
        match = _GSM8K_FINAL.search(answer.strip())
        return (match.group(1) if match else answer).replace(",", "").strip()
    if fmt == "math":
        boxed = last_boxed(answer)
        return boxed if boxed is not None else answer.strip()
    return answer.strip()


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (balanced braces), or None."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth, j = 0, i
    while j < len(text):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
        j += 1
    return None


def final_answer_text(completion: str) -> str:
    """The part of a completion that holds its final answer: after </think>, then the last
    \\boxed{}, else a GSM8K-style `#### x` / `A: x` line, else the last line."""
    body = completion.rsplit("</think>", 1)[-1]
    boxed = last_boxed(body)
    if boxed is not None:
        return f"${boxed}$"
    match = _GSM8K_FINAL.search(body.strip())
    if match:
        return match.group(1).replace(",", "")
    lines = [ln for ln in body.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def check(args: tuple[str, str]) -> MathVerdict:
    """One verification (runs inside the helper process)."""
    if args == WARM_UP:
        from math_verify import parse  # noqa: F401 - import the parser before the first timed check

        return MathVerdict(False, None, "warm_up")
    reference, completion = args
    from math_verify import parse, verify

    answer = mixed_numbers_as_sums(final_answer_text(completion))
    reference = mixed_numbers_as_sums(reference)
    predicted = parse(answer)
    if not predicted:
        return MathVerdict(False, None, "no_answer")
    gold = parse(reference if "$" in reference else f"${reference}$") or parse(reference)
    ok = bool(gold) and verify(gold, predicted)
    return MathVerdict(ok, str(predicted[-1]), None if ok else "wrong_answer")


class MathVerifier:
    """Verify (reference, completion) pairs on `workers` helper processes with a per-check limit."""

    def __init__(self, workers: int = 2, timeout_s: float = 10.0):
        self.workers = workers
        self.timeout_s = timeout_s
        self._helpers: Queue | None = None
        self._all: list[TimeLimitedCall] = []
        self._lock = threading.Lock()

    def _pool(self) -> Queue:
        with self._lock:
            if self._helpers is None:
                self._helpers = Queue()
                for _ in range(self.workers):
                    helper = TimeLimitedCall(check, self.timeout_s)
                    self._all.append(helper)
                    self._helpers.put(helper)
            return self._helpers

    def verify(self, reference: str, completion: str) -> MathVerdict:
        pool = self._pool()
        helper = pool.get()
        try:
            return helper.call((reference, completion))
        except TimeoutError:
            return MathVerdict(False, None, "verifier_timeout", f"no result within {self.timeout_s} s")
        except (HelperCrashed, HelperCallFailed) as err:
            return MathVerdict(False, None, "verifier_error", f"{type(err).__name__}: {err}"[:1000])
        finally:
            pool.put(helper)

    def verify_many(self, pairs: list[tuple[str, str]]) -> list[MathVerdict]:
        """Verify many pairs concurrently, one helper per worker; results in input order."""
        with ThreadPoolExecutor(self.workers) as threads:
            return list(threads.map(lambda p: self.verify(*p), pairs))

    def close(self) -> None:
        for helper in self._all:
            helper.close()
        self._all, self._helpers = [], None
