"""Connected components of verified pairs, and the cluster assignment of every current document: by
union-find on one worker (one shuffle) or in GroupByKey rounds (large-star / small-star, then labels)."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from corpusmill.filters.dedup import components
from corpusmill.filters.dedup.keys import Rank
from corpusmill.pipelines.io.shards import shard_of
from corpusmill.pipelines.transforms.dedup.common import NEAR_FILTER, chunks_by_partition, partition_of, unpack
from corpusmill.pipelines.transforms.ledger import count

UNCONVERGED = "unconverged_components"  # counter: components max_rounds did not turn into stars


@dataclass(frozen=True)
class Assignment:
    """Where a clustered document ended up."""

    cluster_id: str
    cluster_size: int
    survivor: Rank


class TooManyEdges(RuntimeError):
    """The verified pairs do not fit the union-find path's limit."""


def union_find(keyed: tuple[int, Iterable[bytes]], num_shards: int, max_edges: int) -> Iterator:
    """Every verified pair of the build in one group -> the assignment of every clustered current document.

    SciPy's connected_components (C, linear in the edges) on the graph with nodes numbered in sorted
    order; a component's label, and so its survivor, is its smallest node, as on the distributed path.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, chunks = keyed
    index: dict = {}
    heads, tails = array("q"), array("q")  # 8 bytes a number, where a list of ints holds objects
    for u, v in unpack(chunks):
        if len(heads) >= max_edges:
            raise TooManyEdges(
                f"{NEAR_FILTER}: more than minhash.max_local_edges={max_edges} verified pairs (counted both ways); "
                "set dedup.minhash.components: distributed (and enough max_rounds), or raise max_local_edges "
                "if one worker has the memory (about 16 bytes a pair, plus the documents in pairs)")
        heads.append(index.setdefault(u, len(index)))
        tails.append(index.setdefault(v, len(index)))
    if not index:
        return
    nodes = sorted(index)
    renumber = np.empty(len(nodes), dtype=np.int64)
    renumber[[index[n] for n in nodes]] = np.arange(len(nodes))
    n = len(nodes)
    rows, cols = renumber[np.frombuffer(heads, dtype=np.int64)], renumber[np.frombuffer(tails, dtype=np.int64)]
    graph = coo_matrix((np.ones(len(heads), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    # nodes are in sorted order, so the first node seen of each component is its smallest
    first = {}
    for i, c in enumerate(component.tolist()):
        first.setdefault(c, i)
    sizes = np.bincount(component, weights=[node.count for node in nodes])
    out = []
    for i, node in enumerate(nodes):
        if node.earlier:  # documents of earlier builds are not in this build's output
            c = component[i]
            label = nodes[first[c]]
            out.append((shard_of(node.id, num_shards), (node.id, Assignment(label.id, int(sizes[c]), label))))
    count(f"{NEAR_FILTER}/clustered_documents", len(out))
    yield from chunks_by_partition(out)


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
            count(f"{NEAR_FILTER}/{UNCONVERGED}")
        cluster = members[label] | {label}
        size = sum(node.count for node in cluster)
        for node in sorted(cluster):
            if node.earlier:  # documents of earlier builds are not in this build's output
                out.append((shard_of(node.id, num_shards), (node.id, Assignment(label.id, size, label))))
    yield from chunks_by_partition(out)
