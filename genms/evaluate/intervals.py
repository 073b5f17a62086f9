"""Confidence intervals of rates: one binomial rate (Wilson) and a rate re-weighted over
strata."""

from __future__ import annotations

import math
from dataclasses import dataclass


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """Wilson score interval (95 % by default) of a rate of ``k`` successes in ``n`` trials."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


@dataclass(frozen=True)
class StratifiedRate:
    """A rate re-weighted over strata (see :func:`stratified_rate`).

    ``weights``: the shares renormalised over the strata that have items; ``missing``: the
    strata with a share but no item (left out of the sum), sorted.
    """

    rate: float | None
    ci: list[float] | None
    weights: dict[str, float]
    missing: list[str]


def stratified_rate(
    strata: dict[str, tuple[float, int]], shares: dict[str, float], z: float = 1.96
) -> StratifiedRate:
    """``Σ_a w_a·p_a`` over the strata ``a`` with items, and a normal-approximation interval.

    ``strata`` maps a stratum to (its rate ``p_a``, its number of items ``n_a``); ``shares`` to
    its weight in the target population. ``w`` is ``shares`` renormalised over the strata with
    ``n_a > 0`` and a positive share (a stratum without a share gets no weight). The interval is
    ``rate ± z·sqrt(Σ_a w_a²·p_a(1−p_a)/n_a)`` (stratified sampling variance with the weights
    taken as exact), clipped to [0, 1]. With no such stratum the rate and interval are None.
    """
    present = {a: pn for a, pn in strata.items() if pn[1] > 0 and shares.get(a, 0.0) > 0}
    missing = sorted(a for a, share in shares.items() if share > 0 and a not in present)
    total = sum(shares[a] for a in present)
    if not present:
        return StratifiedRate(None, None, {}, missing)
    weights = {a: shares[a] / total for a in present}
    rate = sum(weights[a] * p for a, (p, _) in present.items())
    var = sum(weights[a] ** 2 * p * (1 - p) / n for a, (p, n) in present.items())
    half = z * math.sqrt(var)
    ci = [round(max(0.0, rate - half), 4), round(min(1.0, rate + half), 4)]
    return StratifiedRate(rate, ci, weights, missing)
