"""Small stand-ins for π_hi, R_hi, π_lo and R_lo (deterministic, fast, no models)."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from pymatgen.core import Composition, Element

from genms.crystal.composition import atomic_numbers_for
from genms.crystal.geometry import shortest_contact
from genms.crystal.structure import Crystal
from genms.interfaces import EnergyPrediction, FormulaCandidate, FormulaScore

FORMULAE = ["SrTiO3", "BaTiO3", "CaTiO3", "KNbO3", "NaCl2", "LaAlO3", "BaZrO3"]


class FakeProposer:
    def __init__(self, formulae: Sequence[str] = FORMULAE) -> None:
        self.formulae = list(formulae)
        self.calls = 0

    def propose(self, request: object, n: int, seed: int) -> list[FormulaCandidate]:
        self.calls += 1
        return [
            FormulaCandidate(f, score=1.0 - 0.01 * i, source="fake")
            for i, f in enumerate(self.formulae[:n])
        ]


class FakeScorer:
    """R_hi from a table: formula -> total (``passed`` = total > 0)."""

    def __init__(self, table: dict[str, float] | None = None) -> None:
        self.table = table or {}

    def score(self, request: object, candidates: Sequence[FormulaCandidate]) -> list[FormulaScore]:
        out = []
        for c in candidates:
            total = self.table.get(c.formula, 0.5)
            reason = "ratio ok" if total > 0 else "ratio is not 1:1:3"
            failures = () if total > 0 else (reason,)
            out.append(
                FormulaScore(
                    c.formula, total, total > 0, (reason,), {"ratio": float(total > 0)}, failures
                )
            )
        return out


def _spread_positions(rng, numbers, a: float) -> np.ndarray:
    """Random fractional positions with no contact shorter than 0.65 × the sum of covalent radii."""
    for _ in range(500):
        frac = rng.uniform(0, 1, (len(numbers), 3))
        found = shortest_contact(Crystal(frac, numbers, np.eye(3) * a))
        if found is None or found[3] >= 0.65:
            return frac
    return frac


class FakeSampler:
    """Cubic cells with random positions (no unphysically short contacts); formulae in
    ``collapse`` get all atoms on one spot."""

    def __init__(
        self,
        collapse: Sequence[str] = (),
        fail_on: str | None = None,
        interrupt_after: int | None = None,
    ):
        self.collapse = set(collapse)
        self.fail_on = fail_on
        self.interrupt_after = interrupt_after
        self.calls: list[tuple[str, ...]] = []

    def sample(self, formulae, n_per_formula, key, formula_units=None):
        if self.interrupt_after is not None and len(self.calls) >= self.interrupt_after:
            raise KeyboardInterrupt("simulated kill")
        self.calls.append(tuple(formulae))
        if self.fail_on in formulae:
            raise RuntimeError("denoiser blew up")
        rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).tolist())
        out = []
        for i, formula in enumerate(formulae):
            z = 1 if formula_units is None else formula_units[i]
            numbers = atomic_numbers_for(formula, z)
            structures = []
            for _ in range(n_per_formula):
                a = 3.0 + len(numbers) ** (1 / 3) * rng.uniform(1.5, 2.5)
                frac = _spread_positions(rng, numbers, a)
                if formula in self.collapse:
                    frac = np.zeros_like(frac)
                structures.append(Crystal(frac, numbers, np.eye(3) * a))
            out.append(structures)
        return out


class FakePredictor:
    """E_form from volume per atom; out of range above ``max_e``; optional spread."""

    def __init__(self, max_e: float = 10.0, std: float | None = None) -> None:
        self.max_e = max_e
        self.std = std
        self.n_structures = 0

    def predict(self, crystals) -> EnergyPrediction:
        self.n_structures += len(crystals)
        e = np.array([-3.0 + 0.05 * c.volume / c.n_atoms for c in crystals])
        std = None if self.std is None else np.full(len(crystals), self.std)
        return EnergyPrediction(e, e < self.max_e, std)


class CubicPerovskiteSampler:
    """Ideal cubic ABX3 cells (a = 4 Å) for any ABX3 formula; random noise of ``jitter`` Å."""

    def __init__(self, jitter: float = 0.0) -> None:
        self.jitter = jitter

    def sample(self, formulae, n_per_formula, key, formula_units=None):
        rng = np.random.default_rng(0)
        frac = np.array(
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], float
        )
        out = []
        for formula in formulae:
            amounts = Composition(formula).get_el_amt_dict()
            x = next(el for el, amt in amounts.items() if amt == 3)
            a_el, b_el = [el for el, amt in amounts.items() if amt == 1]
            numbers = [Element(a_el).Z, Element(b_el).Z] + [Element(x).Z] * 3
            out.append(
                [
                    Crystal(
                        frac + rng.normal(0, self.jitter / 4.0, frac.shape),
                        numbers,
                        np.eye(3) * 4.0,
                    )
                    for _ in range(n_per_formula)
                ]
            )
        return out
