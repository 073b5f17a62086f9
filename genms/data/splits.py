"""Fixed random splits of a single-file source (used for mp_cgcnn)."""

from __future__ import annotations

import numpy as np


def random_split(rows: np.ndarray, fractions: tuple[float, ...], names: tuple[str, ...],
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Permute ``rows`` with ``rng`` and cut it by ``fractions`` (the last split takes the rest).

    Each split's rows are returned sorted, so a split keeps the source order. Seeded with
    ``np.random.default_rng(0)``, mp_cgcnn's 36,733 kept rows give 29,386 / 3,673 / 3,674.
    """
    if len(fractions) != len(names):
        raise ValueError(f"{len(fractions)} fractions for {len(names)} split names")
    if any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    rows = np.asarray(rows, np.int64)
    perm = rows[rng.permutation(len(rows))]
    bounds = np.floor(np.cumsum(fractions)[:-1] * len(rows) + 1e-9).astype(int)
    parts = np.split(perm, bounds)
    return {name: np.sort(part) for name, part in zip(names, parts, strict=True)}
