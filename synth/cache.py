"""The generation cache: every sample is stored as it arrives, so a re-run after a crash or a
kill generates only what is missing, and a new verifier never pays for generation again.

A cache is a folder of JSONL files; each write is a new file written under a temporary name
and renamed, so a crash never leaves a half-written file behind. A sample's key is a hash
of the problem id, template version, model, sampling parameters and sample index.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict

from corpusmill.schemas.config import SamplingConfig
from corpusmill.schemas.samples import CachedSample


def sample_key(problem_id: str, template: str, model: str, params: SamplingConfig, index: int) -> str:
    """The cache key of sample `index` of a problem under one template, model and sampling setup."""
    body = json.dumps([problem_id, template, model, {k: v for k, v in params.model_dump().items() if k != "n"}, index],
                      sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class GenerationCache:
    """Read all cached samples of a folder, and add new ones."""

    def __init__(self, folder: str):
        self.folder = folder

    def load(self) -> dict[str, CachedSample]:
        """Every cached sample by key (a later file wins; unreadable lines are skipped)."""
        samples: dict[str, CachedSample] = {}
        if not os.path.isdir(self.folder):
            return samples
        for name in sorted(os.listdir(self.folder)):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(self.folder, name), encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                        samples[row["key"]] = CachedSample(row["key"], row["problem_id"], row["index"], row["text"],
                                                           row.get("finish_reason"))
                    except (ValueError, KeyError, TypeError):
                        continue
        return samples

    def add(self, samples: list[CachedSample]) -> None:
        """Store samples in a new file (temporary name, then rename)."""
        if not samples:
            return
        os.makedirs(self.folder, exist_ok=True)
        final = os.path.join(self.folder, f"part-{uuid.uuid4().hex}.jsonl")
        tmp = final + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for s in samples:
                f.write(json.dumps(asdict(s), ensure_ascii=False) + "\n")
        os.replace(tmp, final)
