"""Typed settings of the forward tree search (the ``search`` node of conf/generate.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genms.configs import ConfigError, check_ranges, range_problems, ranged
from genms.crystal.composition import MAX_CELL_ATOMS

STRATEGIES = ("best_first", "breadth_first")


@dataclass(frozen=True)
class FilterConfig:
    """Which sampled structures may be ranked (GenMS §1.4: validity checks + trusted range).

    Attributes:
      structural: drop structures with two atoms closer than ``min_distance_ang`` or a cell
        smaller than ``min_volume_ang3`` (CDVAE structural validity), and (unless it is
        ``null``) with a contact shorter than ``min_contact_fraction`` allows.
      min_contact_fraction: element-aware minimum distance of the ranked answer: drop a
        structure in which two atoms are closer than this fraction of the sum of their covalent
        radii (Cordero et al. 2008; ``null`` = no such check). The default 0.6 lies below every
        relaxed structure of MP-20, the CGCNN MP set and WBM we checked (lowest 0.62, actinide
        pairs; 1 % of them lie below 0.75).
      composition: drop structures whose composition fails SMACT charge neutrality with the
        electronegativity test (CDVAE composition validity) or differs from the formula.
      trusted_range: drop structures whose predicted energy lies outside the range the GNN
        saw in training (the paper's anti-exploitation threshold).
      max_std_ev_per_atom: with an ensemble GNN, drop structures whose prediction spread is
        larger than this (``null`` = no limit).
      e_form_min / e_form_max: an explicit energy window (eV/atom) on top of the trusted range.
    """

    structural: bool = True
    composition: bool = True
    trusted_range: bool = True
    min_distance_ang: float = ranged(0.5, 0, 10)
    min_volume_ang3: float = ranged(0.1, 0, 1e6)
    min_contact_fraction: float | None = ranged(0.6, 0, 2)
    max_std_ev_per_atom: float | None = ranged(None, 0, 100)
    e_form_min: float | None = ranged(None, -100, 100)
    e_form_max: float | None = ranged(None, -100, 100)

    def __post_init__(self) -> None:
        check_ranges(self, "search.filters.")


@dataclass(frozen=True)
class SearchConfig:
    """Algorithm 1's branching factors, the score weights and the batching of model calls.

    Attributes:
      H: language branching factor: formulae asked of π_hi.
      W: maximum width: formulae (ranked by R_hi) expanded into structures.
      L: structure branching factor: structures sampled from π_lo per expanded formula.
      lambda_hi / lambda_lo: weights of the multi-objective score
        ``lambda_hi * R_hi + lambda_lo * R_lo`` with R_hi in [0, 1] and
        R_lo = -(predicted formation energy, eV/atom). ``lambda_hi = 0`` ranks structures by
        energy alone, as in the paper's experiments.
      strategy: ``best_first`` (the paper: top W formulae, L structures each) or
        ``breadth_first`` (every formula that survives R_hi, the same W·L structure budget
        spread over them: more diverse compositions).
      formula_units: formula units Z to spread each formula's L structures over (``[]`` = let
        π_lo choose Z from its training data).
      max_atoms: skip Z values giving cells larger than this (``null`` = no limit).
      sample_chunk: formulae per sampler call (one batched, compiled call on the device).
      energy_batch: structures per energy-model call.
      top_k: structures kept as the answer (CIFs, pictures, the printed table).
      distinct_top: the answer skips structures equal (``StructureMatcher``) to a better one of
        the same formula, so near-copies do not fill it (every candidate stays in the tables).
      symprec: tolerance (Å) of the space groups shown and of the symmetrised CIFs written.
    """

    H: int = ranged(25, 1, 1000)
    W: int = ranged(5, 1, 1000)
    L: int = ranged(8, 1, 10_000)
    lambda_hi: float = ranged(1.0, 0, 1e6)
    lambda_lo: float = ranged(1.0, 0, 1e6)
    strategy: str = "best_first"
    formula_units: list[int] = ranged([], 1, MAX_CELL_ATOMS)
    max_atoms: int | None = ranged(None, 1, MAX_CELL_ATOMS)
    sample_chunk: int = ranged(8, 1, 4096)
    energy_batch: int = ranged(256, 1, 1_000_000)
    top_k: int = ranged(10, 1, 10_000)
    distinct_top: bool = True
    symprec: float = ranged(0.1, 0, 10, lo_open=True)
    filters: FilterConfig = field(default_factory=FilterConfig)

    def __post_init__(self) -> None:
        problems = range_problems(SearchConfig, self, "search.")
        if self.strategy not in STRATEGIES:
            problems.append(
                f"search.strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})"
            )
        if problems:
            raise ConfigError("; ".join(problems), problems)
