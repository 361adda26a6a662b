"""Planning a token-weighted mixture: how many copies of each document go into it.

Every choice is a hash of the document id and the seed, never of the order documents arrive in,
so a mixture is the same on every run and runner. Each document falls into one of BUCKETS
buckets by its hash. A source's documents in one rehydration group (the same `cluster_size`
repeats, FineWeb-2 style) all get `base` copies, and one more copy goes to the documents of the
first buckets until the group's target is met; inside the boundary bucket a second part of the
same hash picks the share of documents needed. The target is therefore met to within a few
documents' tokens, where drawing each document independently (Bernoulli sampling) misses it by
the square root of the document count: about 2% on a few thousand documents.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BUCKETS = 4096
_BUCKET_BITS = 12
_REST_BITS = 64 - _BUCKET_BITS


def _hash64(*parts: object) -> int:
    key = "\x00".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def bucket_of(seed: int, doc_id: str) -> tuple[int, float]:
    """(bucket, position inside the bucket in [0, 1)) of a document."""
    h = _hash64(seed, doc_id)
    return h >> _REST_BITS, (h & ((1 << _REST_BITS) - 1)) / (1 << _REST_BITS)


def shard_of(seed: int, doc_id: str, copy: int, num_shards: int) -> int:
    """The output shard of one copy of a document: copies of one document spread over shards."""
    return _hash64(seed, "shard", doc_id, copy) % num_shards


def order_key(seed: int, doc_id: str, copy: int) -> tuple[int, str, int]:
    """Where a copy goes inside its shard: a shuffled order that is the same on every run (63 bits, so
    the key stays a signed 64-bit integer that Beam's coder writes natively)."""
    return _hash64(seed, "order", doc_id, copy) >> 1, doc_id, copy


def repeats(cluster_size: int | None, table: Mapping[int, int]) -> int:
    """FineWeb-2 rehydration: a document that stood for `cluster_size` copies before deduplication is
    repeated table[k] times for the largest k <= cluster_size; once when no k applies."""
    if not table or not cluster_size:
        return 1
    applying = [k for k in table if k <= cluster_size]
    return table[max(applying)] if applying else 1


@dataclass(frozen=True)
class GroupPlan:
    """Copies of the documents of one source and rehydration group: `base` each, one more for buckets
    below `cutoff`, and for a `partial` share (by position) of the documents in bucket `cutoff`."""

    base: int
    cutoff: int
    partial: float

    def copies(self, bucket: int, position: float) -> int:
        extra = bucket < self.cutoff or (bucket == self.cutoff and position < self.partial)
        return self.base + int(extra)


@dataclass(frozen=True)
class SourcePlan:
    name: str
    weight: float
    available_tokens: int  # one pass, with rehydration repeats
    planned_tokens: int
    groups: dict[int, GroupPlan]  # by repeats

    def copies(self, group: int, bucket: int, position: float) -> int:
        return self.groups[group].copies(bucket, position)


@dataclass(frozen=True)
class MixPlan:
    sources: dict[str, SourcePlan]
    total_tokens: int
    requested_tokens: int | None  # the config's total_tokens, when it was more than the sources allow
    num_shards: int

    def to_json(self) -> dict:
        return {"total_tokens": self.total_tokens, "requested_tokens": self.requested_tokens,
                "num_shards": self.num_shards,
                "sources": {n: {"weight": s.weight, "available_tokens": s.available_tokens,
                                "planned_tokens": s.planned_tokens,
                                "groups": {str(g): vars(p) for g, p in sorted(s.groups.items())}}
                            for n, s in sorted(self.sources.items())}}


@dataclass(frozen=True)
class SourceTarget:
    name: str
    weight: float
    max_epochs: float


def plan_mixture(masses: Iterable[tuple[tuple[str, int, int], int]], targets: list[SourceTarget],
                 total_tokens: int | None, shard_tokens: int) -> MixPlan:
    """The plan from ((source, repeats, bucket), tokens) of every document that may enter the mixture.

    The mixture's size is `total_tokens`, or when that is not given (or more than the sources allow) the
    most tokens every source's `max_epochs` allow at its weight. A source without tokens raises ValueError.
    """
    tokens: dict[str, dict[int, list[int]]] = {t.name: {} for t in targets}
    for (source, group, bucket), n in masses:
        tokens[source].setdefault(group, [0] * BUCKETS)[bucket] += n
    available = {name: sum(g * sum(b) for g, b in groups.items()) for name, groups in tokens.items()}
    empty = sorted(name for name, n in available.items() if n == 0)
    if empty:
        raise ValueError(f"sources with no documents left to sample: {', '.join(empty)}")
    most = min(available[t.name] * t.max_epochs / t.weight for t in targets)
    total = most if total_tokens is None else min(total_tokens, most)
    sources = {}
    for t in targets:
        ratio = total * t.weight / available[t.name]  # copies per repeat
        groups = {g: _group_plan(g * ratio, buckets) for g, buckets in tokens[t.name].items()}
        sources[t.name] = SourcePlan(t.name, t.weight, available[t.name], round(total * t.weight), groups)
    requested = total_tokens if total_tokens is not None and total_tokens > total else None
    return MixPlan(sources, round(total), requested, max(1, math.ceil(total / shard_tokens)))


def _group_plan(copies: float, buckets: list[int]) -> GroupPlan:
    """`copies` per document on average: the whole part for all, the rest by buckets in order."""
    base = math.floor(copies + 1e-12)
    extra = (copies - base) * sum(buckets)
    cumulative = 0
    for bucket, n in enumerate(buckets):
        if cumulative + n >= extra and n > 0:
            return GroupPlan(base, bucket, (extra - cumulative) / n)
        cumulative += n
    return GroupPlan(base, BUCKETS, 0.0)
