"""The OpenAI-compatible backend against a local fake server: n, the n fallback, retries, failures."""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from corpusmill.schemas.config import BackendConfig, SamplingConfig
from corpusmill.schemas.samples import GenerationFailed
from corpusmill.synth.backends.openai_server import OpenAICompatibleBackend

CALLS: Counter = Counter()
LEAK = "a farmer keeps exactly seventeen brown goats and twelve white sheep in the old stone barn"


class FakeServer(BaseHTTPRequestHandler):
    """Behaviour chosen by the model name: ok, ignores-n, flaky, down, bad-request, slow, drops."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = body["model"]
        CALLS[model] += 1
        if model == "down" or (model == "flaky" and CALLS[model] <= 2):
            return self._reply(503 if CALLS[model] % 2 else 429, {"error": "busy"})
        if model == "bad-request":
            return self._reply(400, {"error": "bad"})
        if model == "slow":
            time.sleep(2)
        if model == "drops" and CALLS[model] == 1:
            self.connection.close()
            return None
        n = 1 if model == "ignores-n" else body["n"]
        user = body["messages"][-1]["content"]
        if model == "leaky":  # always right, but recites a benchmark item (LEAK) while thinking
            answer = user.split("[answer=", 1)[1].split("]", 1)[0]
            texts = [f"<think>I recall: {LEAK}.</think>\nThe answer is \\boxed{{{answer}}}." for _ in range(n)]
        elif model == "solver":  # right on even samples, wrong on odd ones; the answer is in the prompt
            answer = user.split("[answer=", 1)[1].split("]", 1)[0]
            texts = [f"<think>thinking</think>\nThe answer is \\boxed{{{answer if i % 2 == 0 else answer + '1'}}}."
                     for i in range(n)]
        elif model == "judge":  # grades the answer: bad -> 3, prose -> no score, flaky -> prose when greedy
            answer = user.split("[Assistant answer]", 1)[1]
            if "prose" in answer or ("flaky" in answer and body.get("temperature") == 0):
                texts = ["The answer looks fine to me, I would give it an eight."] * n
            else:
                texts = [f"Checked.\nSCORE: {3 if 'bad' in answer else 9}"] * n
        elif model == "sloppy":  # right, truncated, wrong, unclosed <think>: repeating every four samples
            answer = user.split("[answer=", 1)[1].split("]", 1)[0]
            kinds = [f"<think>thinking</think>\nThe answer is \\boxed{{{answer}}}.", "<think>thinking about",
                     f"<think>thinking</think>\nThe answer is \\boxed{{{answer}1}}.", f"<think>the answer is {answer}"]
            texts = [kinds[i % 4] for i in range(n)]
        else:
            texts = [f"{user}|seed={body['seed']}|{i}" for i in range(n)]
        choices = [{"index": i, "message": {"role": "assistant", "content": text},
                    "finish_reason": "length" if model == "sloppy" and i % 4 == 1 else "stop"}
                   for i, text in enumerate(texts)]
        return self._reply(200, {"choices": choices})

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def _backend(url, model, max_retries=3):
    config = BackendConfig(base_url=url, model=model, concurrency=4, timeout_s=1, max_retries=max_retries)
    return OpenAICompatibleBackend(config, backoff_s=0.01)


def _conversations(k):
    return [[{"role": "user", "content": f"q{i}"}] for i in range(k)]


def test_n_samples_per_problem_in_order(server):
    out = _backend(server, "ok").generate(_conversations(5), SamplingConfig(n=3, seed=10))
    assert [len(samples) for samples in out] == [3] * 5
    assert out[2][1].text == "q2|seed=10|1" and out[2][1].finish_reason == "stop"


def test_servers_that_ignore_n_get_repeated_requests_with_distinct_seeds(server):
    out = _backend(server, "ignores-n").generate(_conversations(2), SamplingConfig(n=3, seed=5))
    assert [s.text for s in out[0]] == ["q0|seed=5|0", "q0|seed=6|0", "q0|seed=7|0"]


def test_retries_on_429_5xx_and_dropped_connections(server):
    assert len(_backend(server, "flaky").generate(_conversations(1), SamplingConfig(n=2))[0]) == 2
    assert len(_backend(server, "drops").generate(_conversations(1), SamplingConfig(n=1))[0]) == 1


def test_failures_are_returned_not_raised(server):
    down = _backend(server, "down").generate(_conversations(2), SamplingConfig(n=1))
    assert all(isinstance(r, GenerationFailed) and ("HTTP 503" in r.error or "HTTP 429" in r.error) for r in down)
    bad = _backend(server, "bad-request").generate(_conversations(1), SamplingConfig(n=1))[0]
    assert isinstance(bad, GenerationFailed) and "HTTP 400" in bad.error
    slow = _backend(server, "slow", max_retries=1).generate(_conversations(1), SamplingConfig(n=1))[0]
    assert isinstance(slow, GenerationFailed) and "Timeout" in slow.error
