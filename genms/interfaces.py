"""The seams between the levels of the search: typed protocols and the values that cross them.

* :class:`Request` — a parsed request in plain language (``genms.language.request.Request``).
* :class:`FormulaProposer` — π_hi: request -> candidate formulae (``genms.language``).
* :class:`FormulaScorer` — R_hi: request + candidates -> one :class:`FormulaScore` each
  (``genms.search.language.RhiScorer`` over ``genms.language.rhi``).
* :class:`StructureSampler` — π_lo: formula -> crystal structures (``genms.diffusion``,
  ``genms.benchmarks.baselines``).
* :class:`EnergyPredictor` — R_lo: crystals -> formation energy per atom (``genms.energy``).

The search (``genms.search``) only sees these, so tests plug in trivial implementations. No
implementation lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from genms.crystal.structure import Crystal

if TYPE_CHECKING:
    import jax


@runtime_checkable
class Request(Protocol):
    """What every level may read of a parsed request (the language level holds the rest)."""

    @property
    def text(self) -> str:
        """The request as written."""
        ...

    @property
    def family(self) -> str | None:
        """The crystal family asked for, if any."""
        ...

    @property
    def count(self) -> int | None:
        """How many formulae the request asks for, if it says."""
        ...

    def to_dict(self) -> dict:
        """A JSON-able record of every constraint."""
        ...


@dataclass(frozen=True)
class FormulaCandidate:
    """A proposed formula with the proposer's own score and free-text reasons."""

    formula: str
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class FormulaScore:
    """R_hi of one formula: ``total`` in [0, 1]; ``passed`` = survived the hard checks."""

    formula: str
    total: float
    passed: bool
    reasons: tuple[str, ...] = ()
    checks: dict[str, float] = field(default_factory=dict)
    failures: tuple[str, ...] = ()  # the hard checks it failed, with reasons


@runtime_checkable
class FormulaProposer(Protocol):
    def propose(self, request: Request, n: int, seed: int) -> list[FormulaCandidate]:
        """Up to ``n`` candidate formulae for a parsed request, deterministic under ``seed``."""
        ...


@runtime_checkable
class FormulaScorer(Protocol):
    def score(self, request: Request, candidates: Sequence[FormulaCandidate]) -> list[FormulaScore]:
        """R_hi: one :class:`FormulaScore` per candidate, in the candidates' order."""
        ...


@runtime_checkable
class StructureSampler(Protocol):
    def sample(
        self,
        formulae: Sequence[str],
        n_per_formula: int,
        key: jax.Array,
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
