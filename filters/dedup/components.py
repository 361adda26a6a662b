"""Connected components by the large-star / small-star iteration (Kiveris et al. 2014,
"Connected Components in MapReduce and Beyond"), as pure functions over one partition.

Nodes are any totally ordered, hashable values; the smallest node of a component becomes
its label. Each step reads the adjacency of the nodes of one partition and returns new
undirected edges; the Beam wiring (pipelines/transforms/dedup/clusters.py) groups edges by partition between
steps, so no step ever holds more than one partition of the graph. Both steps preserve
connectivity; repeated, they turn every component into a star around its smallest node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TypeVar

Node = TypeVar("Node")
Edge = tuple[Node, Node]


def adjacency(edges: Iterable[Edge]) -> dict:
    """Directed edge list (both directions present) to {node: set of neighbours}, self-loops dropped."""
    adj: dict = defaultdict(set)
    for u, v in edges:
        if u != v:
            adj[u].add(v)
    return adj


def large_star(adj: dict) -> Iterator[Edge]:
    """Connect every neighbour larger than u to the smallest node of u's closed neighbourhood."""
    for u, neighbours in adj.items():
        m = min(neighbours) if neighbours else u
        m = min(m, u)
        for v in neighbours:
            if v > u:
                yield v, m


def small_star(adj: dict) -> Iterator[Edge]:
    """Connect u and its neighbours not larger than u to the smallest of them."""
    for u, neighbours in adj.items():
        smaller = [v for v in neighbours if v < u]
        if not smaller:
            continue
        m = min(smaller)
        yield u, m
        for v in smaller:
            if v != m:
                yield v, m


def labels(adj: dict) -> Iterator[tuple[Node, Node]]:
    """(node, label) once the graph is a set of stars: the label is the smallest node seen from it."""
    for u, neighbours in adj.items():
        yield u, min(min(neighbours), u) if neighbours else u
