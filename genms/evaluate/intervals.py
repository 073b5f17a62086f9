"""Confidence intervals of rates."""

from __future__ import annotations

import math


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """Wilson score interval (95 % by default) of a rate of ``k`` successes in ``n`` trials."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]
