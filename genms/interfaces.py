"""The seams between the levels of the search (protocols only; no implementations here).

* :class:`FormulaProposer` — π_hi: request -> candidate formulae (``genms.language``).
* :class:`StructureSampler` — π_lo: formula -> crystal structures (``genms.diffusion``).
* :class:`EnergyPredictor` — R_lo: crystals -> formation energy per atom (``genms.energy``).

The search (``genms.search``) only sees these, so tests can plug in trivial implementations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from genms.crystal.structure import Crystal


@dataclass(frozen=True)
class FormulaCandidate:
    """A proposed formula with the proposer's own score and free-text reasons."""

    formula: str
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    source: str = ""


@runtime_checkable
class FormulaProposer(Protocol):
    def propose(self, request: object, n: int, seed: int) -> list[FormulaCandidate]:
        """Up to ``n`` candidate formulae for a parsed request, deterministic under ``seed``."""
        ...


@runtime_checkable
class StructureSampler(Protocol):
    def sample(
        self,
        formulae: Sequence[str],
        n_per_formula: int,
        key: object,
        formula_units: Sequence[int] | None = None,
    ) -> list[list[Crystal]]:
        """``n_per_formula`` structures for each formula (outer list follows ``formulae``).

        ``key`` is a JAX PRNG key. ``formula_units`` fixes Z per formula; ``None`` lets the
        sampler choose Z from data.
        """
        ...


@dataclass(frozen=True)
class EnergyPrediction:
    """Formation energy per atom (eV/atom) per crystal, with trust information."""

    e_form: np.ndarray  # float[n]
    in_range: np.ndarray  # bool[n]: prediction inside the range seen in training
    std: np.ndarray | None = None  # float[n] ensemble spread, when available
    extra: dict = field(default_factory=dict)


@runtime_checkable
class EnergyPredictor(Protocol):
    def predict(self, crystals: Sequence[Crystal]) -> EnergyPrediction: ...
