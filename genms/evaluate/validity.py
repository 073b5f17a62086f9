"""CIF, structural and composition validity, as CDVAE/DiffCSP's evaluation scripts define them.

A crystal goes through the same steps as DiffCSP's ``compute_metrics.Crystal``:

1. **Construction** (:func:`build_structure`). It fails (``constructed=False``) when an atomic
   number is out of range, any coordinate or lattice value is NaN/inf, a lattice length is
   not positive, building the pymatgen ``Structure`` raises, or the volume is below 0.1 Å^3.
2. **Structural validity**: constructed, and every interatomic distance >= 0.5 Å (and volume
   >= 0.1 Å^3). Distances are pymatgen's ``Structure.distance_matrix`` (the minimum-image
   distance between *different* sites) as in DiffCSP's ``structure_validity``; the exact
   periodic minimum including an atom's own images (:func:`genms.crystal.geometry.min_distance`)
   is available with ``distance_method="periodic"``.
3. **Composition validity**: :func:`genms.crystal.composition.smact_valid` on the atom types
   (counts reduced by their gcd), computed even when construction failed, as DiffCSP does.
4. ``valid = struct_valid and comp_valid``.

DiffCSP additionally marks a crystal invalid when matminer's CrystalNN fingerprint raises; that
gate is not reproduced (see ``docs/metrics.md``).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from genms.configs import ranged
from genms.crystal.composition import smact_valid
from genms.crystal.convert import (
    CIFParseError,
    StructureReadError,
    from_cif,
    from_pymatgen,
    to_crystal,
)
from genms.crystal.geometry import min_distance
from genms.crystal.structure import Crystal
from genms.evaluate.parallel import parallel_map

log = logging.getLogger(__name__)

#: What the metrics accept as a crystal: our :class:`Crystal`, a pymatgen ``Structure``, ASE
#: ``Atoms``, ``Structure.as_dict()``, a CIF/POSCAR path, a DiffCSP-style dict of arrays
#: (``frac_coords``, ``atom_types`` or ``atomic_numbers``, ``lengths``, ``angles``), or ``None``
#: for a sample that was never produced (invalid).
CrystalLike = Any

DISTANCE_METHODS = ("minimum_image", "periodic")


@dataclass(frozen=True)
class ValidityConfig:
    """Thresholds of the validity metrics (defaults = CDVAE/DiffCSP)."""

    # Å; a crystal is valid when the minimum distance is >= this
    distance_cutoff: float = ranged(0.5, 0, 10)
    volume_cutoff: float = ranged(0.1, 0, 1e6)  # Å^3
    distance_method: str = "minimum_image"  # "minimum_image" (DiffCSP) or "periodic" (exact)

    def __post_init__(self) -> None:
        if self.distance_method not in DISTANCE_METHODS:
            raise ValueError(
                f"distance_method must be one of {DISTANCE_METHODS}, got {self.distance_method!r}"
            )


#: The CDVAE/DiffCSP thresholds.
DEFAULT_VALIDITY = ValidityConfig()


@dataclass(frozen=True)
class Validity:
    """Validity of one crystal. ``reason`` is the first failure ("" when fully valid)."""

    constructed: bool
    struct_valid: bool
    comp_valid: bool
    min_distance: float  # Å; nan when not constructed, inf for a single site (minimum image)
    volume: float  # Å^3; nan when unknown
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.struct_valid and self.comp_valid

    def to_dict(self) -> dict:
        d = asdict(self)
        d["valid"] = self.valid
        for k in ("min_distance", "volume"):
            if not math.isfinite(d[k]):
                d[k] = None
        return d


def _atom_types(values: np.ndarray) -> np.ndarray:
    """DiffCSP convention: a 2-D array of type scores is turned into argmax + 1."""
    arr = np.asarray(values)
    if arr.ndim > 1:
        return np.argmax(arr, axis=-1) + 1
    return arr


def _unpack(x: CrystalLike) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(frac_coords, atomic_numbers, lattice matrix or None, lengths+angles or None)."""
    if isinstance(x, Crystal):
        return x.frac_coords, x.atomic_numbers, x.lattice, None
    if isinstance(x, Structure):
        if not x.is_ordered:
            raise TypeError("disordered structure (partial occupancies)")
        numbers = np.array([site.specie.Z for site in x], dtype=np.int64)
        return x.frac_coords, numbers, x.lattice.matrix, None
    if isinstance(x, Mapping) and "sites" not in x:
        types = x.get("atom_types", x.get("atomic_numbers"))
        if types is None or "frac_coords" not in x:
            raise TypeError(
                "a crystal dict needs 'frac_coords' and 'atom_types' (or 'atomic_numbers')"
            )
        if "lattice" in x:
            return np.asarray(x["frac_coords"]), _atom_types(types), np.asarray(x["lattice"]), None
        params = np.concatenate([np.ravel(x["lengths"]), np.ravel(x["angles"])]).astype(np.float64)
        return np.asarray(x["frac_coords"]), _atom_types(types), None, params
    try:  # ASE Atoms, Structure.as_dict(), a CIF/POSCAR path
        crystal = to_crystal(x)
    except StructureReadError as exc:
        raise TypeError(
            f"cannot evaluate an object of type {type(x).__name__} as a crystal: {exc}"
        ) from None
    return crystal.frac_coords, crystal.atomic_numbers, crystal.lattice, None


def build_structure(
    x: CrystalLike, volume_cutoff: float = 0.1
) -> tuple[Structure | None, np.ndarray | None, str]:
    """Construct the pymatgen ``Structure`` the metrics use, DiffCSP's way.

    Returns ``(structure or None, atomic numbers or None, reason)``; ``reason`` is "" on
    success, else one of ``missing``, ``bad_input``, ``bad_atom_types``, ``nan_value``,
    ``non_positive_lattice``, ``construction_raises_exception``,
    ``unrealistically_small_lattice``. Atomic numbers are returned whenever they are readable
    (composition validity is judged even for crystals that fail construction).
    """
    if x is None:
        return None, None, "missing"
    try:
        frac, numbers, matrix, params = _unpack(x)
        frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
        numbers_f = np.asarray(numbers, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        return None, None, f"bad_input: {exc}"
    if numbers_f.size == 0 or frac.shape[0] != numbers_f.size:
        return None, None, "bad_input: no atoms or mismatched coordinate/type counts"
    if (
        not np.all(np.isfinite(numbers_f))
        or np.any(numbers_f != np.round(numbers_f))
        or numbers_f.min() < 1
        or numbers_f.max() > 118
    ):
        return None, None, "bad_atom_types"
    numbers_i = numbers_f.astype(np.int64)
    lattice_values = matrix if matrix is not None else params
    if not (np.all(np.isfinite(frac)) and np.all(np.isfinite(lattice_values))):
        return None, numbers_i, "nan_value"
    if matrix is not None:
        matrix = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
        lengths = np.linalg.norm(matrix, axis=1)
    else:
        lengths = params[:3]
    if np.any(lengths <= 0):
        return None, numbers_i, "non_positive_lattice"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lattice = (
                Lattice(matrix) if matrix is not None else Lattice.from_parameters(*params.tolist())
            )
            structure = Structure(lattice, numbers_i.tolist(), frac, coords_are_cartesian=False)
            volume = float(structure.volume)
    except Exception:  # pymatgen raises several types for degenerate input
        return None, numbers_i, "construction_raises_exception"
    if not math.isfinite(volume) or volume < volume_cutoff:
        return None, numbers_i, "unrealistically_small_lattice"
    return structure, numbers_i, ""


def minimum_image_distance(structure: Structure) -> float:
    """Smallest distance between two different sites (pymatgen ``distance_matrix``; inf for 1
    site)."""
    if len(structure) < 2:
        return float("inf")
    dist = np.array(structure.distance_matrix, dtype=np.float64)
    np.fill_diagonal(dist, np.inf)
    return float(dist.min())


def structure_min_distance(structure: Structure, method: str = "minimum_image") -> float:
    if method == "minimum_image":
        return minimum_image_distance(structure)
    if method == "periodic":
        return min_distance(from_pymatgen(structure))
    raise ValueError(f"distance_method must be one of {DISTANCE_METHODS}, got {method!r}")


def composition_valid(atomic_numbers: np.ndarray | None) -> bool:
    """SMACT validity of the atom types (False when they are unreadable)."""
    if atomic_numbers is None or len(atomic_numbers) == 0:
        return False
    try:
        return bool(smact_valid(np.asarray(atomic_numbers, dtype=np.int64)))
    except Exception as exc:  # an element pymatgen/SMACT does not know
        log.debug("composition validity failed: %s", exc)
        return False


def check_validity(x: CrystalLike, config: ValidityConfig = DEFAULT_VALIDITY) -> Validity:
    """Structural and composition validity of one crystal (see the module docstring)."""
    structure, numbers, reason = build_structure(x, config.volume_cutoff)
    comp_ok = composition_valid(numbers)
    if structure is None:
        return Validity(False, False, comp_ok, float("nan"), float("nan"), reason)
    dmin = structure_min_distance(structure, config.distance_method)
    volume = float(structure.volume)
    struct_ok = dmin >= config.distance_cutoff and volume >= config.volume_cutoff
    if not struct_ok:
        reason = "short_distance"
    elif not comp_ok:
        reason = "charge_imbalance"
    return Validity(True, struct_ok, comp_ok, dmin, volume, reason)


def structurally_valid(x: CrystalLike, config: ValidityConfig = DEFAULT_VALIDITY) -> bool:
    structure, _, _ = build_structure(x, config.volume_cutoff)
    if structure is None:
        return False
    return structure_min_distance(structure, config.distance_method) >= config.distance_cutoff


def parse_cif(text: str) -> tuple[Crystal | None, str]:
    """``(crystal, "")`` when pymatgen parses the CIF, else ``(None, error message)``."""
    try:
        return from_cif(text), ""
    except CIFParseError as exc:
        return None, str(exc)


def cif_valid(text: str) -> bool:
    """CIF validity: pymatgen parses the text into an ordered structure."""
    return parse_cif(text)[0] is not None


def validity_fractions(results: Sequence[Validity]) -> dict[str, float]:
    """Fractions over *all* results (DiffCSP's ``GenEval.get_validity``)."""
    n = len(results)
    if n == 0:
        return {"struct_valid": 0.0, "comp_valid": 0.0, "valid": 0.0}
    return {
        "struct_valid": sum(r.struct_valid for r in results) / n,
        "comp_valid": sum(r.comp_valid for r in results) / n,
        "valid": sum(r.valid for r in results) / n,
    }


class _Checker:
    """Picklable ``check_validity`` with a fixed config (for :func:`parallel_map`)."""

    def __init__(self, config: ValidityConfig) -> None:
        self.config = config

    def __call__(self, x: CrystalLike) -> Validity:
        return check_validity(x, self.config)


def check_many(
    crystals: Sequence[CrystalLike],
    config: ValidityConfig = DEFAULT_VALIDITY,
    n_workers: int | None = 1,
    progress: bool = True,
    desc: str = "validity",
) -> list[Validity]:
    """:func:`check_validity` over many crystals on a process pool."""
    return parallel_map(_Checker(config), list(crystals), n_workers, desc, progress=progress)
