"""The generation cache's logic: every sample is stored as it arrives, so a re-run after a crash or a
kill generates only what is missing, and a new verifier never pays for generation again.

A sample's key hashes the problem id, the rendered prompt, the template version, the model, the
sampling parameters (all but `n`) and the sample index: a changed problem text or template never
reuses old generations. Samples live in partitions by problem id (`p-XXX/` folders of JSONL
files), so a worker reads only the partitions of the problems it handles. The files are read and
written by pipelines/io/generation_cache.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict

from corpusmill.schemas.config import SamplingConfig
from corpusmill.schemas.samples import CachedSample

# Fixed: the partition of a problem must not change between runs, or its cached samples are not found.
CACHE_PARTITIONS = 256


def sample_key(problem_id: str, messages: list[dict], template: str, model: str, params: SamplingConfig,
               index: int) -> str:
    """The cache key of sample `index` of a problem rendered as `messages`."""
    prompt = hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    sampling = {k: v for k, v in params.model_dump().items() if k != "n"}
    body = json.dumps([problem_id, prompt, template, model, sampling, index], sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def cache_partition(problem_id: str) -> int:
    """The partition holding a problem's samples (a stable hash, the same in every process)."""
    digest = hashlib.blake2b(problem_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % CACHE_PARTITIONS


def partition_folder(partition: int) -> str:
    return f"p-{partition:03d}"


def to_lines(samples: Iterable[CachedSample]) -> bytes:
    return "".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in samples).encode("utf-8")


def from_lines(data: bytes) -> Iterator[CachedSample]:
    """The samples of one cache file; a half-written or unreadable line is skipped (it is generated again)."""
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            yield CachedSample(row["key"], row["problem_id"], row["index"], row["text"], row.get("finish_reason"))
        except (ValueError, KeyError, TypeError):
            continue
