"""The composition of an SFT set: how much of each part (non-reasoning, and reasoning per domain) it
takes, in samples or tokens, from what the sources offer after filtering."""

from __future__ import annotations

from corpusmill.schemas.config import SftCompositionConfig

NON_REASONING = ("non_reasoning", "-")


class Shortage(ValueError):
    """A part asked for more than its sources have (and up-sampling is off), or for something none have."""


def part_shares(available: dict[tuple[str, str], int], cfg: SftCompositionConfig) -> dict[tuple[str, str], float]:
    """The share of the set each (kind, domain) part gets."""
    reasoning = {part: n for part, n in available.items() if part[0] == "reasoning"}
    shares: dict[tuple[str, str], float] = {}
    if cfg.reasoning_domains:
        for domain, share in cfg.reasoning_domains.items():
            shares[("reasoning", domain)] = cfg.reasoning_share * share
    else:  # as the reasoning sources offer them
        offered = sum(reasoning.values())
        for part, n in reasoning.items():
            shares[part] = cfg.reasoning_share * n / offered if offered else 0.0
        if not offered and cfg.reasoning_share > 0:
            shares[("reasoning", "other")] = cfg.reasoning_share
    shares[NON_REASONING] = 1 - cfg.reasoning_share
    return {part: share for part, share in shares.items() if share > 0}


def plan(available: dict[tuple[str, str], int], cfg: SftCompositionConfig) -> dict[tuple[str, str], int]:
    """Target amount (samples or tokens, as `available` counts) of every part with a share."""
    shares = part_shares(available, cfg)
    missing = [part for part in shares if not available.get(part)]
    if missing:
        raise Shortage("no source offers " + ", ".join(_name(p) for p in missing) + " after filtering, but the "
                       "composition gives it a share; add a source or set its share to 0")
    total = cfg.total if cfg.total is not None else min(int(available[p] / s) for p, s in shares.items())
    targets = {part: round(total * share) for part, share in shares.items()}
    short = {p: (t, available[p]) for p, t in targets.items() if t > available[p]}
    if short and not cfg.upsample:
        raise Shortage("the composition asks for more than the sources have: " + "; ".join(
            f"{_name(p)} {t} {cfg.unit} wanted, {n} available" for p, (t, n) in sorted(short.items()))
            + ". Lower composition.total, or set composition.upsample: true to repeat samples")
    return targets


def _name(part: tuple[str, str]) -> str:
    return "non-reasoning" if part == NON_REASONING else f"reasoning/{part[1]}"
