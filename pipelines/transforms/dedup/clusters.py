"""Connected components of verified pairs in GroupByKey rounds (large-star / small-star, then labels),
and the cluster assignment of every current document."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from corpusmill.filters.dedup import components
from corpusmill.filters.dedup.keys import Rank
from corpusmill.pipelines.io.shards import shard_of
from corpusmill.pipelines.transforms.dedup.common import NEAR_FILTER, chunks_by_partition, partition_of, unpack
from corpusmill.pipelines.transforms.ledger import count


@dataclass(frozen=True)
class Assignment:
    """Where a clustered document ended up."""

    cluster_id: str
    cluster_size: int
    survivor: Rank




def _star_step(step):
    def run(keyed: tuple[int, Iterable[list]], partitions: int) -> Iterator:
        _, chunks = keyed
        adj = components.adjacency(unpack(chunks))
        out = []
        for u, v in step(adj):
            out += [(partition_of(u.id, partitions), (u, v)), (partition_of(v.id, partitions), (v, u))]
        yield from chunks_by_partition(out)

    return run


large_star = _star_step(components.large_star)
small_star = _star_step(components.small_star)


def label_components(keyed: tuple[int, Iterable[list]], partitions: int) -> Iterator:
    """Tell each label its members, and each node its own label (to check convergence)."""
    part, chunks = keyed
    adj = components.adjacency(unpack(chunks))
    out = []
    for u, label in components.labels(adj):
        out.append((part, ("self", u, label)))
        out.append((partition_of(label.id, partitions), ("member", label, u)))
    yield from chunks_by_partition(out)


def assign_clusters(keyed: tuple[int, Iterable[bytes]], num_shards: int) -> Iterator:
    _, chunks = keyed
    own_label, members = {}, defaultdict(set)
    for kind, a, b in unpack(chunks):
        if kind == "self":
            own_label[a] = b
        else:
            members[a].add(b)
    out = []
    for label in sorted(members):
        if own_label.get(label, label) != label:
            count(f"{NEAR_FILTER}/unconverged_components")
        cluster = members[label] | {label}
        size = sum(node.count for node in cluster)
        for node in sorted(cluster):
            if node.earlier:  # documents of earlier builds are not in this build's output
                out.append((shard_of(node.id, num_shards), (node.id, Assignment(label.id, size, label))))
    yield from chunks_by_partition(out)
