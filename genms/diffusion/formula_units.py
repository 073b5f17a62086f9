"""Data-driven choice of the number of formula units Z in a cell.

A formula fixes the ratios, not the cell: SrTiO3 may be sampled with 5, 10 or 20 atoms. The
prior counts, over the training set, how many formula units the cells of *similar*
compositions hold, at three levels of similarity, most specific first:

1. the same reduced composition (e.g. every SrTiO3 cell),
2. the same anonymous formula (ABC3: the sorted reduced counts),
3. the same number of atoms per formula unit (5 for ABC3),

and falls back to the next level when a level has fewer than ``min_count`` cells. Z values
whose cell would exceed ``max_atoms`` are removed. The counts are JSON-able and ship in the
model bundle. Callers can always give Z explicitly instead.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


def composition_key(atomic_numbers: Iterable[int]) -> tuple[tuple[tuple[int, int], ...], int]:
    """Atomic numbers of one cell -> (reduced composition as ((Z_el, count), ...), Z)."""
    values, counts = np.unique(np.asarray(list(atomic_numbers), np.int64), return_counts=True)
    if values.size == 0:
        raise ValueError("a cell with no atoms has no composition")
    g = math.gcd(*[int(c) for c in counts])
    return tuple((int(v), int(c) // g) for v, c in zip(values, counts, strict=True)), g


def _exact_name(reduced: tuple[tuple[int, int], ...]) -> str:
    return " ".join(f"{el}:{n}" for el, n in reduced)


def _anonymous_name(reduced: tuple[tuple[int, int], ...]) -> str:
    return "-".join(str(n) for n in sorted(n for _, n in reduced))


def _fu_size(reduced: tuple[tuple[int, int], ...]) -> int:
    return sum(n for _, n in reduced)


@dataclass
class FormulaUnitPrior:
    """Empirical distributions over Z, keyed at three similarity levels (see module docstring)."""

    exact: dict[str, dict[int, int]] = field(default_factory=dict)
    anonymous: dict[str, dict[int, int]] = field(default_factory=dict)
    fu_size: dict[int, dict[int, int]] = field(default_factory=dict)
    max_atoms: int = 20
    min_count: int = 5

    @classmethod
    def fit(
        cls, cells: Iterable[Sequence[int]], max_atoms: int, min_count: int = 5
    ) -> FormulaUnitPrior:
        """``cells``: the atomic numbers of every training cell."""
        exact: dict[str, Counter] = {}
        anon: dict[str, Counter] = {}
        size: dict[int, Counter] = {}
        for numbers in cells:
            reduced, z = composition_key(numbers)
            exact.setdefault(_exact_name(reduced), Counter())[z] += 1
            anon.setdefault(_anonymous_name(reduced), Counter())[z] += 1
            size.setdefault(_fu_size(reduced), Counter())[z] += 1
        if not exact:
            raise ValueError("fitting the formula-unit prior needs at least one training cell")
        as_dict = lambda d: {k: dict(sorted(v.items())) for k, v in d.items()}  # noqa: E731
        return cls(as_dict(exact), as_dict(anon), as_dict(size), max_atoms, min_count)

    def distribution(
        self, reduced: tuple[tuple[int, int], ...]
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """(Z values, probabilities, level used) for a reduced composition."""
        n_fu = _fu_size(reduced)
        z_max = self.max_atoms // n_fu
        if z_max < 1:
            raise ValueError(
                f"one formula unit has {n_fu} atoms, more than the model's {self.max_atoms}; "
                "choose a smaller formula"
            )
        levels = (
            ("exact", self.exact.get(_exact_name(reduced), {})),
            ("anonymous", self.anonymous.get(_anonymous_name(reduced), {})),
            ("fu_size", self.fu_size.get(n_fu, {})),
        )
        for name, counts in levels:
            allowed = {int(z): c for z, c in counts.items() if int(z) <= z_max}
            if sum(allowed.values()) >= self.min_count:
                zs = np.array(sorted(allowed), np.int64)
                p = np.array([allowed[z] for z in zs], np.float64)
                return zs, p / p.sum(), name
        # Nothing similar enough in the data: the cell sizes seen overall decide.
        sizes = Counter()
        for size, counts in self.fu_size.items():
            for z, c in counts.items():
                sizes[int(size) * int(z)] += c
        zs = np.arange(1, z_max + 1)
        # +1: no Z gets zero mass
        weight = np.array([sizes.get(int(z) * n_fu, 0) + 1.0 for z in zs])
        return zs, weight / weight.sum(), "global"

    def choose(
        self, atomic_numbers_per_fu: Sequence[int], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw ``n`` Z values for the composition given by one formula unit's atomic numbers."""
        reduced, _ = composition_key(atomic_numbers_per_fu)
        zs, p, _ = self.distribution(reduced)
        return rng.choice(zs, size=n, p=p)

    def to_dict(self) -> dict:
        str_keys = lambda d: {str(k): {str(z): c for z, c in v.items()} for k, v in d.items()}  # noqa: E731
        return {
            "exact": str_keys(self.exact),
            "anonymous": str_keys(self.anonymous),
            "fu_size": str_keys(self.fu_size),
            "max_atoms": self.max_atoms,
            "min_count": self.min_count,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FormulaUnitPrior:
        int_z = lambda v: {int(z): int(c) for z, c in v.items()}  # noqa: E731
        return cls(
            {k: int_z(v) for k, v in d["exact"].items()},
            {k: int_z(v) for k, v in d["anonymous"].items()},
            {int(k): int_z(v) for k, v in d["fu_size"].items()},
            int(d["max_atoms"]),
            int(d["min_count"]),
        )
