"""What every dedup step shares: the stage and filter names of its removals, stable partitions, and
the pickled chunks that carry many small items through one shuffle element."""

from __future__ import annotations

import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator

from corpusmill.pipelines.io.shards import shard_of

STAGE = "dedup"
URL_FILTER, EXACT_FILTER, NEAR_FILTER = "url_dedup_v1", "exact_dedup_v1", "minhash_dedup_v1"
DEDUP_SCORES = ("dedup.group_size", "dedup.cluster_size", "dedup.earlier_build")  # of dedup's removals


def partition_of(doc_id: str, partitions: int) -> int:
    """A stable partition for an id (Python's hash() differs between processes)."""
    return shard_of(doc_id, partitions)


def chunks_by_partition(items: Iterable[tuple[int, object]]) -> Iterator[tuple[int, bytes]]:
    """Group items by partition into one pickled chunk each.

    One pickle per chunk, because Beam's fallback coder would pickle every object inside a
    list on its own: measured, that was the largest single cost of the near-dup shuffles.
    """
    grouped: dict[int, list] = defaultdict(list)
    for part, item in items:
        grouped[part].append(item)
    for part, group in grouped.items():
        yield part, pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(chunks: Iterable[bytes]) -> Iterator:
    for chunk in chunks:
        yield from pickle.loads(chunk)
