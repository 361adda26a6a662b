"""Candidate pairs of near duplicates: documents that share an LSH bucket."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from corpusmill.filters.dedup.keys import Rank


def find_candidates(band: np.ndarray, hashes: np.ndarray, ranks: Sequence[Rank], max_pairwise: int
                    ) -> Iterator[tuple[Rank, Rank]]:
    """Pairs (a, b), a < b, of documents sharing a bucket (same band, same hash); earlier-earlier
    pairs are skipped. Entry i is document ranks[i] in bucket (band[i], hashes[i]) (`ranks` may be
    RankColumns, which makes a Rank only for the members of shared buckets).

    Buckets are found by one NumPy sort; only buckets with two or more members reach Python.
    A bucket larger than `max_pairwise` pairs each member with its first `max_pairwise`
    members by rank only: boilerplate pages can fill one bucket with thousands of
    documents, and all pairs of those would be quadratic.
    """
    if len(hashes) < 2:
        return
    order = np.lexsort((hashes, band))
    b_sorted, h_sorted = band[order], hashes[order]
    starts = np.flatnonzero(np.concatenate(([True], (b_sorted[1:] != b_sorted[:-1]) | (h_sorted[1:] != h_sorted[:-1]))))
    ends = np.append(starts[1:], len(order))
    for start, end in zip(starts[ends - starts >= 2].tolist(), ends[ends - starts >= 2].tolist(), strict=True):
        members = sorted({ranks[i] for i in order[start:end].tolist()})
        for i, b in enumerate(members[1:], start=1):
            for a in members[: min(i, max_pairwise)]:
                if a.earlier or b.earlier:
                    yield a, b
