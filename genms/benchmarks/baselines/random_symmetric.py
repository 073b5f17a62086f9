"""Random symmetric structures of a formula (PyXtal), the "random search" baseline.

For each sample a space group is drawn from the allowed ones (a family's space groups, or all
230) and a number of formula units Z from those keeping the cell within ``max_atoms``; PyXtal
places the atoms on Wyckoff positions compatible with the composition, with a random lattice of
about the right volume. Incompatible (group, Z) draws are redrawn up to ``max_tries`` times.
Structures are returned as primitive cells. PyXtal is an optional dependency
(``pip install -e .[baselines]``); it runs offline.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence

import numpy as np

from genms.benchmarks.baselines.rng import generator_from_key
from genms.crystal.composition import parse_formula
from genms.crystal.convert import from_pymatgen
from genms.crystal.structure import Crystal
from genms.language.families import get_family

log = logging.getLogger(__name__)

PYXTAL_MISSING = ("the random-structure baseline needs PyXtal: pip install -e '.[baselines]' (or "
                  "pip install pyxtal)")


def _pyxtal():
    try:
        from pyxtal import pyxtal
    except ImportError as exc:
        raise ImportError(PYXTAL_MISSING) from exc
    return pyxtal


def _reduced(formula: str) -> tuple[list[str], list[int]]:
    amounts = parse_formula(formula).get_el_amt_dict()
    if any(abs(v - round(v)) > 1e-6 for v in amounts.values()):
        raise ValueError(f"{formula}: fractional amounts have no symmetric structure")
    counts = [int(round(v)) for v in amounts.values()]
    g = math.gcd(*counts)
    return list(amounts), [c // g for c in counts]


class RandomSymmetricSampler:
    """StructureSampler: PyXtal random crystals in allowed space groups."""

    name = "random"

    def __init__(
        self,
        space_groups: Sequence[int] | None = None,
        max_atoms: int = 40,
        max_tries: int = 30,
        volume_factor: float = 1.1,
    ) -> None:
        self.pyxtal = _pyxtal()
        groups = list(space_groups) if space_groups else list(range(1, 231))
        bad = [g for g in groups if not 1 <= int(g) <= 230]
        if bad:
            raise ValueError(f"space groups must be 1..230, got {bad}")
        self.space_groups = [int(g) for g in groups]
        self.max_atoms = max_atoms
        self.max_tries = max_tries
        self.volume_factor = volume_factor

    @classmethod
    def for_family(cls, family: str, **kwargs) -> RandomSymmetricSampler:
        return cls(get_family(family).space_groups, **kwargs)

    def _one(
        self, species: list[str], counts: list[int], zs: list[int], rng: np.random.Generator
    ) -> Crystal | None:
        for _ in range(self.max_tries):
            sg = int(rng.choice(self.space_groups))
            z = int(rng.choice(zs))
            crystal = self.pyxtal()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    crystal.from_random(
                        3,
                        sg,
                        species,
                        [c * z for c in counts],
                        factor=self.volume_factor,
                        conventional=False,
                        random_state=int(rng.integers(2**31)),
                    )
                if not crystal.valid:
                    continue
                structure = crystal.to_pymatgen().get_primitive_structure()
            except Exception as exc:  # incompatible composition / failed placement: redraw
                log.debug("pyxtal %s sg %d z %d: %s", species, sg, z, exc)
                continue
            if len(structure) > self.max_atoms:
                continue
            return from_pymatgen(structure, {"baseline": "random", "spacegroup": sg, "z": z})
        return None

    def sample(self, formulae: Sequence[str], n_per_formula: int, key: object,
               formula_units: Sequence[int] | None = None) -> list[list[Crystal]]:
        """Up to ``n_per_formula`` random symmetric structures per formula (fewer if PyXtal
        fails)."""
        rng = generator_from_key(key)
        out: list[list[Crystal]] = []
        for i, formula in enumerate(formulae):
            try:
                species, counts = _reduced(formula)
            except ValueError as exc:
                log.warning("random baseline: %s", exc)
                out.append([])
                continue
            per_unit = sum(counts)
            zs = [int(formula_units[i])] if formula_units is not None else \
                [z for z in range(1, 9) if z * per_unit <= self.max_atoms] or [1]
            found = [
                c
                for c in (self._one(species, counts, zs, rng) for _ in range(n_per_formula))
                if c is not None
            ]
            if len(found) < n_per_formula:
                log.warning(
                    "random baseline: %d of %d structures for %s",
                    len(found),
                    n_per_formula,
                    formula,
                )
            out.append(found)
        return out
