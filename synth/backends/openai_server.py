"""Generation through any OpenAI-compatible chat server (vllm serve, SGLang, hosted APIs).

Async with a concurrency limit; each request has a timeout; 429, 5xx, timeouts and dropped
connections are retried with exponential backoff (decided by status code and exception
type, never by message text). `n` samples are asked in one request; servers that ignore
`n` (transformers serve and the llama.cpp server do) get the missing samples by repeated
requests with n=1 and distinct seeds. A problem whose requests keep failing comes back
as a GenerationFailed with the last error, so the caller records it and a later run
retries it; nothing is lost.
"""

from __future__ import annotations

import asyncio

import httpx

from corpusmill.schemas.config import BackendConfig, SamplingConfig
from corpusmill.schemas.samples import Generation, GenerationFailed

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
RETRY_ERRORS = (httpx.TimeoutException, httpx.TransportError)


class OpenAICompatibleBackend:
    """Chat completions from `config.base_url` (ending in /v1) for model `config.model`."""

    def __init__(self, config: BackendConfig, api_key: str | None = None, backoff_s: float = 1.0):
        self.base_url = config.base_url.rstrip("/")
        self.model = config.model
        self.api_key = api_key
        self.concurrency = config.concurrency
        self.timeout_s = config.timeout_s
        self.max_retries = config.max_retries
        self.backoff_s = backoff_s

    def generate(self, conversations: list[list[dict]], params: SamplingConfig
                 ) -> list[list[Generation] | GenerationFailed]:
        """`params.n` samples for every conversation, in input order."""
        return asyncio.run(self._generate_all(conversations, params))

    async def _generate_all(self, conversations, params):
        limit = asyncio.Semaphore(self.concurrency)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout_s) as client:
            return await asyncio.gather(*(self._samples(client, limit, c, params) for c in conversations))

    async def _samples(self, client, limit, messages, params: SamplingConfig):
        try:
            choices = await self._request(client, limit, messages, params, params.n, params.seed)
            samples = [Generation(c["message"]["content"] or "", c.get("finish_reason"), i)
                       for i, c in enumerate(choices[: params.n])]
            # the server ignored n: ask for the rest one by one, each with its own seed
            for i in range(len(samples), params.n):
                more = await self._request(client, limit, messages, params, 1, params.seed + i)
                samples.append(Generation(more[0]["message"]["content"] or "", more[0].get("finish_reason"), i))
            return samples
        except (GenerationError, KeyError, IndexError, TypeError, ValueError) as err:
            return GenerationFailed(f"{type(err).__name__}: {err}"[:500])

    async def _request(self, client, limit, messages, params: SamplingConfig, n: int, seed: int) -> list[dict]:
        payload = {"model": self.model, "messages": messages, "n": n, "temperature": params.temperature,
                   "top_p": params.top_p, "max_tokens": params.max_tokens, "seed": seed}
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                async with limit:
                    response = await client.post("/chat/completions", json=payload)
            except RETRY_ERRORS as err:
                last = f"{type(err).__name__}: {err}"
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise GenerationError(f"HTTP {response.status_code}: {response.text[:300]}")
            choices = response.json().get("choices")
            if not choices:
                raise GenerationError("response has no choices")
            return choices
        raise GenerationError(f"gave up after {self.max_retries + 1} attempts; last: {last}")


class GenerationError(RuntimeError):
    """A request that cannot succeed (after retries, or a non-retryable answer)."""
