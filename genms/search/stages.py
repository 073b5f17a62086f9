"""The units of work the search hands to an executor, and the code that runs them.

* :class:`SampleJob` + :class:`SamplingWorker` — π_lo: one batched sampler call for a chunk of
  formulae at one formula-unit count Z, seeded from the search seed and the chunk itself (so
  a chunk gives the same structures however the run is split, resumed or parallelised).
* :func:`check_structure` — structural validity, composition validity and composition match
  of one structure (CPU, stateless).
* :class:`EnergyWorker` — R_lo: formation energies for a batch of structures.

Everything here is picklable (module-level functions, frozen dataclasses) so it runs on Ray
workers, and results have JSON encoders for the run journal.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import jax
import numpy as np
from ase.data import chemical_symbols

from genms.crystal.composition import composition_from_numbers, parse_formula, smact_valid
from genms.crystal.geometry import covalent_radius, min_distance, shortest_contact
from genms.crystal.structure import Crystal
from genms.interfaces import EnergyPrediction, EnergyPredictor, StructureSampler
from genms.search.candidates import crystal_from_dict, crystal_to_dict

log = logging.getLogger(__name__)


def stable_seed(*parts: object) -> int:
    """A 31-bit integer from ``parts`` (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# -- sampling -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleJob:
    """``n_per_formula`` structures for each formula, all with Z formula units (None: π_lo
    picks)."""

    formulae: tuple[str, ...]
    n_per_formula: int
    formula_units: int | None
    seed: int

    @property
    def key(self) -> str:
        z = "auto" if self.formula_units is None else str(self.formula_units)
        return f"z={z}|n={self.n_per_formula}|{','.join(self.formulae)}"


class SamplingWorker:
    """Wraps a :class:`~genms.interfaces.StructureSampler`; one call per :class:`SampleJob`."""

    def __init__(self, sampler: StructureSampler) -> None:
        self.sampler = sampler

    def sample(self, job: SampleJob) -> list[list[Crystal]]:
        key = jax.random.key(job.seed)
        units = None if job.formula_units is None else [job.formula_units] * len(job.formulae)
        out = self.sampler.sample(list(job.formulae), job.n_per_formula, key, formula_units=units)
        if len(out) != len(job.formulae):
            raise ValueError(f"sampler returned {len(out)} lists for {len(job.formulae)} formulae")
        return [list(structures) for structures in out]


def build_sampling_worker(factory: Callable[[], StructureSampler]) -> SamplingWorker:
    return SamplingWorker(factory())


def encode_samples(samples: list[list[Crystal]]) -> list[list[dict]]:
    return [[crystal_to_dict(c) for c in per_formula] for per_formula in samples]


def decode_samples(value: list[list[dict]]) -> list[list[Crystal]]:
    return [[crystal_from_dict(d) for d in per_formula] for per_formula in value]


# -- checks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class StructureCheck:
    """CDVAE validity of one structure (distances in Å, volume in Å^3), and its shortest contact
    relative to the covalent radii of the two atoms (``contact_ratio`` = d / (r_i + r_j))."""

    min_distance: float
    volume: float
    structural_valid: bool
    composition_valid: bool | None  # None: SMACT is not installed
    composition_matches: bool
    formula_units: int
    contact_ratio: float = float("nan")
    contact: str = ""  # "Cs-Cl 1.62 Å = 0.47 × (2.44 + 1.02) Å"


_SMACT_WARNED = False


def _composition_valid(numbers: np.ndarray) -> bool | None:
    global _SMACT_WARNED

    try:
        return bool(smact_valid(numbers))
    except ImportError:
        if not _SMACT_WARNED:
            log.warning("SMACT is not installed: composition validity is not checked")
            _SMACT_WARNED = True
        return None


def describe_contact(crystal: Crystal, i: int, j: int, distance: float, ratio: float) -> str:
    """``Cs-Cl 1.62 Å = 0.47 × (2.44 + 1.02) Å`` (covalent radii of Cordero et al. 2008)."""
    zi, zj = int(crystal.atomic_numbers[i]), int(crystal.atomic_numbers[j])
    return (f"{chemical_symbols[zi]}-{chemical_symbols[zj]} {distance:.2f} Å = {ratio:.2f} × "
            f"({covalent_radius(zi):.2f} + {covalent_radius(zj):.2f}) Å")


def check_structure(
    item: tuple[Crystal, str], min_distance_ang: float = 0.5, min_volume_ang3: float = 0.1
) -> StructureCheck:
    """Validity of ``item = (crystal, formula)``; ``formula`` is what was asked of π_lo."""
    crystal, formula = item
    volume = crystal.volume
    finite = bool(np.isfinite(crystal.lattice).all() and np.isfinite(crystal.frac_coords).all())
    dist = min_distance(crystal) if crystal.n_atoms > 0 and finite else float("nan")
    structural = bool(
        crystal.n_atoms > 0 and dist >= min_distance_ang and volume >= min_volume_ang3 and finite
    )
    if crystal.n_atoms == 0:
        return StructureCheck(dist, volume, False, None, False, 0)
    ratio, contact = float("nan"), ""
    if finite and volume > 0:
        found = shortest_contact(crystal)
        if found is not None and np.isfinite(found[3]):
            ratio, contact = found[3], describe_contact(crystal, *found)
    comp = composition_from_numbers(crystal.atomic_numbers)
    target = parse_formula(formula)
    matches = comp.reduced_formula == target.reduced_formula
    units = (
        int(round(comp.num_atoms / target.get_reduced_composition_and_factor()[0].num_atoms))
        if matches
        else 0
    )
    return StructureCheck(float(dist), float(volume), structural,
                          _composition_valid(crystal.atomic_numbers), bool(matches), units,
                          float(ratio), contact)


def encode_check(check: StructureCheck) -> dict:
    return asdict(check)


def decode_check(value: dict) -> StructureCheck:
    return StructureCheck(**value)


# -- energies ------------------------------------------------------------------------------
def _energies(e_form, in_range, std) -> EnergyPrediction:
    """An :class:`EnergyPrediction` of flat float64 / bool arrays (no ``extra``)."""
    return EnergyPrediction(np.asarray(e_form, dtype=np.float64).reshape(-1),
                            np.asarray(in_range, dtype=bool).reshape(-1),
                            None if std is None else np.asarray(std, dtype=np.float64).reshape(-1))


class EnergyWorker:
    """Wraps an :class:`~genms.interfaces.EnergyPredictor`; one call per batch of structures."""

    def __init__(self, predictor: EnergyPredictor) -> None:
        self.predictor = predictor

    def predict(self, crystals: Sequence[Crystal]) -> EnergyPrediction:
        pred = self.predictor.predict(list(crystals))
        out = _energies(pred.e_form, pred.in_range, pred.std)
        if out.e_form.shape[0] != len(crystals):
            raise ValueError(
                f"energy model returned {out.e_form.shape[0]} values for {len(crystals)} structures"
            )
        return out


def build_energy_worker(factory: Callable[[], EnergyPredictor]) -> EnergyWorker:
    return EnergyWorker(factory())


def encode_energies(pred: EnergyPrediction) -> dict:
    return {"e_form": pred.e_form.tolist(), "in_range": pred.in_range.tolist(),
            "std": None if pred.std is None else pred.std.tolist()}


def decode_energies(value: dict) -> EnergyPrediction:
    return _energies(value["e_form"], value["in_range"], value.get("std"))
