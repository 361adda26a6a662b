"""Connected components of verified pairs, and the cluster assignment of every current document: by
union-find on one worker (one shuffle) or in GroupByKey rounds (large-star / small-star, then labels)."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from corpusmill.filters.dedup import components
from corpusmill.filters.dedup.keys import Rank
from corpusmill.pipelines.io.shards import shard_of
from corpusmill.pipelines.io.spill import SpillBuffer, spilled_items
from corpusmill.pipelines.transforms.dedup.common import NEAR_FILTER, chunks_by_partition, partition_of, unpack
from corpusmill.pipelines.transforms.ledger import count

UNCONVERGED = "unconverged_components"  # counter: components max_rounds did not turn into stars
ON_DISK = "components_on_disk"  # counter: the union-find path found more pairs than max_local_edges


@dataclass(frozen=True)
class Assignment:
    """Where a clustered document ended up."""

    cluster_id: str
    cluster_size: int
    survivor: Rank


def union_find(keyed: tuple[int, Iterable[tuple[int, str]]], num_shards: int, max_edges: int, partitions: int,
               spill_root: str) -> Iterator:
    """Every verified pair of the build (spill files by partition, gathered on one worker) -> the assignment
    of every clustered current document.

    Up to `max_edges` pairs (counted both ways): SciPy's connected_components (C, linear in the edges) on the
    graph with nodes numbered in sorted order; a component's label, and so its survivor, is its smallest
    node, as on the distributed path. More pairs than that: star rounds over the spill files on this worker
    (`star_rounds_on_disk`), which hold one partition in memory at a time and run until they converge, so
    the choice is made by the graph at run time and the same build works at any size.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, spilled = keyed
    spilled = sorted(spilled)
    index: dict = {}
    heads, tails = array("q"), array("q")  # 8 bytes a number, where a list of ints holds objects
    for u, v in spilled_items(path for _, path in spilled):
        if len(heads) >= max_edges:
            del index, heads, tails
            count(f"{NEAR_FILTER}/{ON_DISK}")
            yield from star_rounds_on_disk(spilled, num_shards, partitions, FileSystems.join(spill_root, "rounds"))
            return
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


def star_rounds_on_disk(spilled: list[tuple[int, str]], num_shards: int, partitions: int, folder: str) -> Iterator:
    """Connected components of an edge list in spill files (by partition of the first node, both directions
    present) by large-star / small-star rounds from file to file, one partition in memory at a time, until a
    round changes nothing; then the assignments, as `union_find` gives them."""
    current = _by_partition(spilled)
    previous, rounds = None, 0
    while True:
        after_large, digest = _step_on_disk(current, components.large_star, partitions,
                                            FileSystems.join(folder, f"{rounds}-large"))
        if digest == previous:  # the last round left the edges as they were: every component is a star
            break
        previous, rounds = digest, rounds + 1
        current, _ = _step_on_disk(after_large, components.small_star, partitions,
                                   FileSystems.join(folder, f"{rounds}-small"))
    count(f"{NEAR_FILTER}/star_rounds_on_disk", rounds)
    # each node tells its label; each label's partition then sums its members
    members = SpillBuffer(FileSystems.join(folder, "members"))
    written = []
    for part in sorted(current):
        adj = components.adjacency(spilled_items(current[part]))
        by_label = chunks_by_partition((partition_of(label.id, partitions), (label, u))
                                       for u, label in components.labels(adj))
        for label_part, chunk in by_label:
            written += members.add(label_part, chunk)
    written += members.flush()
    clustered = 0
    for paths in _by_partition(written).values():
        clusters = defaultdict(set)
        for label, u in spilled_items(paths):
            clusters[label].add(u)
        out = []
        for label in sorted(clusters):
            cluster = clusters[label] | {label}
            size = sum(node.count for node in cluster)
            out += [(shard_of(node.id, num_shards), (node.id, Assignment(label.id, size, label)))
                    for node in sorted(cluster) if node.earlier]
        clustered += len(out)
        yield from chunks_by_partition(out)
    count(f"{NEAR_FILTER}/clustered_documents", clustered)


def _by_partition(spilled: Iterable[tuple[int, str]]) -> dict[int, list[str]]:
    by_part: dict[int, list[str]] = defaultdict(list)
    for part, path in spilled:
        by_part[part].append(path)
    return by_part


def _step_on_disk(current: dict[int, list[str]], step, partitions: int, folder: str
                  ) -> tuple[dict[int, list[str]], int]:
    """One star step over every partition's edge files -> the new edge files, and a digest of the edges it
    read (equal digests: equal edge sets)."""
    out = SpillBuffer(folder)
    written, digest = [], 0
    for part in sorted(current):
        adj = components.adjacency(spilled_items(current[part]))
        digest += sum(hash((u, v)) for u, neighbours in adj.items() for v in neighbours)
        edges = ((partition_of(e.id, partitions), (e, f)) for u, v in step(adj) for e, f in ((u, v), (v, u)))
        for target, chunk in chunks_by_partition(edges):
            written += out.add(target, chunk)
    written += out.flush()
    return _by_partition(written), digest % (1 << 64)


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
