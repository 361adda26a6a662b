"""LSH banding: how many bands of how many rows make a MinHash index find pairs at a Jaccard
threshold. Config validation derives bands x rows from the threshold (schemas/config.py), so
this arithmetic sits on the floor layer with the models that use it."""

from __future__ import annotations

import numpy as np


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two documents of this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.1, fn_weight: float = 0.9
                  ) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimising fp_weight*FP area + fn_weight*FN area.

    The areas are those of datasketch's MinHashLSH (integrals of the candidate probability
    below and above the threshold), integrated with a fine trapezoid grid instead of scipy.
    The default weights favour recall: candidates are verified afterwards, so a false
    positive costs a check while a false negative loses a duplicate for good.
    """
    below = np.linspace(0.0, threshold, 513)
    above = np.linspace(threshold, 1.0, 513)
    best, best_error = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(1.0 - (1.0 - below**rows) ** bands, below)
            fn = np.trapezoid((1.0 - above**rows) ** bands, above)
            error = fp_weight * fp + fn_weight * fn
            if error < best_error - 1e-12:
                best, best_error = (bands, rows), error
    return best
