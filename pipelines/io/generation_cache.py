"""Reading and writing the generation cache (synth/cache.py) through Beam FileSystems, so a cache on
gs:// or s3:// is shared by every worker and every run."""

from __future__ import annotations

import uuid
from collections import defaultdict

from apache_beam.io.filesystems import FileSystems

from corpusmill.schemas.samples import CachedSample
from corpusmill.synth.cache import cache_partition, from_lines, partition_folder, to_lines


class GenerationCache:
    """The cache under `folder`: one partition read at a time, new samples added as new files."""

    def __init__(self, folder: str):
        self.folder = folder

    def load_partition(self, partition: int) -> dict[str, CachedSample]:
        """Every cached sample of one partition by key (a later file wins)."""
        pattern = FileSystems.join(self.folder, partition_folder(partition), "part-*.jsonl")
        samples: dict[str, CachedSample] = {}
        for meta in sorted(FileSystems.match([pattern])[0].metadata_list, key=lambda m: m.path):
            with FileSystems.open(meta.path, compression_type="uncompressed") as f:
                samples.update((s.key, s) for s in from_lines(f.read()))
        return samples

    def add(self, samples: list[CachedSample]) -> None:
        """Store samples, one new file per partition, each written under a temporary name and renamed:
        a crash never leaves a half-written file where a reader looks."""
        by_partition: dict[int, list[CachedSample]] = defaultdict(list)
        for s in samples:
            by_partition[cache_partition(s.problem_id)].append(s)
        for partition, group in sorted(by_partition.items()):
            final = FileSystems.join(self.folder, partition_folder(partition), f"part-{uuid.uuid4().hex}.jsonl")
            tmp = f"{final}.tmp"
            with FileSystems.create(tmp) as f:
                f.write(to_lines(group))
            FileSystems.rename([tmp], [final])
