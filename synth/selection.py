"""Rejection sampling per problem: keep up to k verified samples of problems whose pass rate
falls inside the configured window (useful difficulty), and say why every other sample went."""

from __future__ import annotations


def select(accepted: dict[int, bool], keep: int, min_rate: float, max_rate: float
           ) -> tuple[float, list[int], dict[int, str]]:
    """(pass rate, sample indices kept, {index: reason} for verified samples not kept).

    `accepted` maps every sample index of one problem to whether it was verified.
    Kept samples are the verified ones with the smallest indices: deterministic.
    """
    n = len(accepted)
    verified = sorted(i for i, ok in accepted.items() if ok)
    rate = len(verified) / n if n else 0.0
    if not min_rate <= rate <= max_rate:
        return rate, [], {i: "pass_rate_out_of_window" for i in verified}
    return rate, verified[:keep], {i: "over_keep_limit" for i in verified[keep:]}
