"""What the search produces: scored formulae, scored structures and the whole result.

* :class:`FormulaNode` — a formula in the tree: proposer output, R_hi (a
  :class:`genms.interfaces.FormulaScore`), whether it was expanded.
* :class:`Candidate` — one sampled structure with every check and score, and its status
  (``kept`` or why it was dropped).
* :class:`SearchResult` — all of the above plus the outcome (``status``/``message``) and timings.

Crystals travel between processes and into the run journal as plain dicts
(:func:`crystal_to_dict` / :func:`crystal_from_dict`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from genms.crystal.convert import to_crystal, to_pymatgen
from genms.crystal.structure import Crystal
from genms.evaluate.matching import structure_matcher

#: Candidate statuses, in the order the filters apply.
KEPT = "kept"
REJECTIONS = {
    "invalid_structure": "atoms closer than search.filters.min_distance_ang or a degenerate cell",
    "short_contact": (
        "two atoms closer than search.filters.min_contact_fraction × the sum of their covalent "
        "radii"
    ),
    "wrong_composition": "sampled composition differs from the formula",
    "invalid_composition": "not charge balanced (SMACT)",
    "energy_failed": "the energy model failed on it",
    "out_of_range": "predicted energy outside the GNN's trusted range",
    "uncertain": "ensemble spread above the limit",
}

#: Search outcomes other than ``ok``.
NO_FORMULA = "no_formula"  # π_hi proposed nothing
NO_FORMULA_PASSED = "no_formula_passed"  # nothing survived R_hi
NO_VALID_STRUCTURE = "no_valid_structure"  # every structure was filtered out (or sampling failed)


def crystal_to_dict(crystal: Crystal) -> dict:
    return {
        "lattice": np.asarray(crystal.lattice).tolist(),
        "frac_coords": np.asarray(crystal.frac_coords).tolist(),
        "atomic_numbers": np.asarray(crystal.atomic_numbers).tolist(),
    }


def crystal_from_dict(d: dict) -> Crystal:
    """:func:`crystal_to_dict`'s dict, or pymatgen's ``Structure.as_dict()``
    (``candidates.json``)."""
    if "sites" in d:
        return to_crystal(d)
    return Crystal(np.array(d["frac_coords"], dtype=np.float64).reshape(-1, 3),
                   np.array(d["atomic_numbers"], dtype=np.int64), np.array(d["lattice"]))


@dataclass(frozen=True)
class FormulaNode:
    """A formula of the tree (one plan of Algorithm 1)."""

    formula: str
    proposer_score: float
    source: str
    r_hi: float
    passed: bool
    reasons: tuple[str, ...] = ()
    checks: dict[str, float] = field(default_factory=dict)
    failures: tuple[str, ...] = ()
    rank: int | None = None  # 1-based rank among R_hi survivors
    expanded: bool = False
    n_requested: int = 0
    n_sampled: int = 0
    n_kept: int = 0
    best_e_form: float | None = None
    note: str = ""

    def to_record(self) -> dict:
        rec = asdict(self)
        rec["reasons"] = "; ".join(self.reasons)
        rec["failures"] = "; ".join(self.failures)
        rec.pop("checks")
        rec.update({f"r_hi_{k}": v for k, v in self.checks.items()})
        return rec


@dataclass(frozen=True)
class Candidate:
    """One sampled structure with every score (energies in eV/atom, distances in Å)."""

    id: str
    formula: str
    crystal: Crystal
    r_hi: float
    formula_units: int
    min_distance: float = float("nan")
    contact_ratio: float = float("nan")  # shortest d / (r_cov,i + r_cov,j)
    contact: str = ""  # that contact in words: "Cs-Cl 1.62 Å = 0.47 × (2.44 + 1.02) Å"
    volume: float = float("nan")
    structural_valid: bool = False
    composition_valid: bool | None = None
    composition_matches: bool = True
    e_form: float | None = None
    e_form_std: float | None = None
    in_range: bool | None = None
    r_lo: float | None = None
    score: float | None = None
    status: str = "unchecked"
    rank: int | None = None

    @property
    def structure(self):
        """The structure as a pymatgen ``Structure``."""
        return to_pymatgen(self.crystal)

    @property
    def n_atoms(self) -> int:
        return self.crystal.n_atoms

    @property
    def kept(self) -> bool:
        return self.status == KEPT

    def to_record(self, with_structure: bool = False) -> dict:
        """Flat dict of every score; with ``with_structure`` also the lattice parameters and the
        structure as pymatgen's ``Structure.as_dict()`` (``Structure.from_dict`` reads it back)."""
        rec = {
            "rank": self.rank,
            "id": self.id,
            "formula": self.formula,
            "status": self.status,
            "score": self.score,
            "r_hi": self.r_hi,
            "r_lo": self.r_lo,
            "e_form_ev_per_atom": self.e_form,
            "e_form_std": self.e_form_std,
            "in_range": self.in_range,
            "formula_units": self.formula_units,
            "n_atoms": self.n_atoms,
            "min_distance_ang": self.min_distance,
            "contact_ratio": self.contact_ratio,
            "shortest_contact": self.contact,
            "volume_ang3": self.volume,
            "structural_valid": self.structural_valid,
            "composition_valid": self.composition_valid,
            "composition_matches": self.composition_matches,
        }
        if with_structure:
            rec["lattice_params"] = np.round(self.crystal.lattice_params, 6).tolist()
            rec["structure"] = self.structure.as_dict()
        return rec


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search: ``status`` is ``ok`` or why nothing could be ranked.

    ``candidates`` holds every sampled structure, best first: the kept ones by rank, then the
    dropped ones in sampling order (``candidates[0]`` is :attr:`best` whenever one was kept).
    """

    request_text: str
    request: Any
    formulae: list[FormulaNode]
    candidates: list[Candidate]
    status: str = "ok"
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", ranked_first(list(self.candidates)))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def best(self) -> Candidate | None:
        """The top-ranked kept structure (None when every structure was dropped)."""
        ranked = self.ranked
        return ranked[0] if ranked else None

    @property
    def ranked(self) -> list[Candidate]:
        """Kept structures, best first."""
        return sorted((c for c in self.candidates if c.kept), key=lambda c: c.rank or 0)

    def top(self, k: int, distinct: bool = False) -> list[Candidate]:
        """The ``k`` best structures; ``distinct`` skips one that ``StructureMatcher`` (stol 0.5,
        ltol 0.3, angle 10°) finds equal to a better one of the same formula."""
        if not distinct:
            return self.ranked[:k]

        matcher = structure_matcher()
        chosen: list[Candidate] = []
        for cand in self.ranked:
            if len(chosen) == k:
                break
            same = [c for c in chosen if c.formula == cand.formula]
            if not any(_fits(matcher, c, cand) for c in same):
                chosen.append(cand)
        return chosen

    def best_per_formula(self) -> list[Candidate]:
        """Algorithm 1's x* of every expanded plan: the best kept structure per formula."""
        best: dict[str, Candidate] = {}
        for c in self.ranked:
            best.setdefault(c.formula, c)
        return list(best.values())

    def status_counts(self) -> dict[str, int]:
        return dict(Counter(c.status for c in self.candidates))

    def with_outcome(self, status: str, message: str) -> SearchResult:
        return replace(self, status=status, message=message)

    def to_dataframe(self):
        """Every candidate with every score as a pandas DataFrame (ranked first)."""
        return pd.DataFrame([c.to_record() for c in ranked_first(self.candidates)])


def _fits(matcher, a: Candidate, b: Candidate) -> bool:
    try:
        return bool(matcher.fit(a.structure, b.structure))
    except Exception:  # a failed comparison counts as different
        return False


def ranked_first(candidates: list[Candidate]) -> list[Candidate]:
    """Kept candidates by rank, then the dropped ones in sampling order."""
    kept = sorted((c for c in candidates if c.kept), key=lambda c: c.rank or 0)
    return kept + [c for c in candidates if not c.kept]
