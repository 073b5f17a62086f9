"""Pre-relaxation with a universal machine-learned potential (CHGNet).

CHGNet's weights ship inside its wheel, so it runs offline. It was trained on the Materials
Project's relaxation trajectories with MP2020-compatible energies, so its energies (and the
formation energies built from them with CHGNet elemental references) sit on the MP scale.

:func:`relax` returns the relaxed structure with the MLIP energy, the steps taken, whether
the force threshold was reached, and how far the structure moved: per-atom displacements
(after removing a rigid translation, measured in the relaxed cell) and the volume change.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.io.ase import AseAtomsAdaptor

from genms.validate.config import MLIPConfig

log = logging.getLogger(__name__)


class MLIPUnavailable(RuntimeError):
    """chgnet (and torch) are not installed."""


def available() -> bool:
    try:
        import chgnet  # noqa: F401, PLC0415 - optional dependency
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise MLIPUnavailable(
            "chgnet is not installed: `pip install torch==2.13.0 && pip install -e '.[chgnet]'` "
            "(or `bash scripts/install_dft.sh`), or set mlip.enabled=false"
        )


@lru_cache(maxsize=2)
def _optimizer(model: str, threads: int):
    require()
    import torch  # noqa: PLC0415 - optional dependency
    from chgnet.model import CHGNet, StructOptimizer  # noqa: PLC0415 - optional dependency

    torch.set_num_threads(threads)
    net = CHGNet.load(model_name=model, use_device="cpu", verbose=False)
    return StructOptimizer(model=net, optimizer_class="BFGS", use_device="cpu")


@dataclass(frozen=True)
class MLIPResult:
    """A relaxed structure (ASE ``Atoms``) and what the relaxation did."""

    atoms: object
    energy_per_atom: float
    steps: int
    converged: bool
    max_force: float
    displacement_mean: float
    displacement_max: float
    volume_change: float
    wall_s: float

    def record(self) -> dict:
        return {
            "energy_per_atom": self.energy_per_atom,
            "steps": self.steps,
            "converged": self.converged,
            "max_force": self.max_force,
            "displacement_mean_ang": self.displacement_mean,
            "displacement_max_ang": self.displacement_max,
            "volume_change": self.volume_change,
            "wall_s": self.wall_s,
        }


def displacements(
    frac_before: np.ndarray, frac_after: np.ndarray, lattice_after: np.ndarray
) -> np.ndarray:
    """Per-atom displacement (Å) between two fractional configurations of the same atoms.

    Differences are wrapped to the nearest periodic image, a rigid translation (the mean
    difference) is removed, and lengths are measured in the final cell, so a pure cell
    change gives zero displacement (it shows up in the volume change instead).
    """
    d = np.asarray(frac_after, dtype=np.float64) - np.asarray(frac_before, dtype=np.float64)
    d -= np.round(d)
    d -= d.mean(axis=0, keepdims=True)
    d -= np.round(d)
    return np.linalg.norm(d @ np.asarray(lattice_after, dtype=np.float64), axis=1)


def relax(atoms, cfg: MLIPConfig, relax_cell: bool | None = None) -> MLIPResult:
    """Relax ASE ``atoms`` with CHGNet (cell too unless ``relax_cell`` says otherwise)."""
    start = time.perf_counter()
    opt = _optimizer(cfg.model, cfg.threads)
    structure = AseAtomsAdaptor.get_structure(atoms)
    cell = cfg.relax_cell if relax_cell is None else relax_cell
    with warnings.catch_warnings():  # torch/chgnet emit user warnings on every call
        warnings.simplefilter("ignore")
        out = opt.relax(structure, fmax=cfg.fmax, steps=cfg.steps, relax_cell=cell, verbose=False)
    final = out["final_structure"]
    traj = out["trajectory"]
    n = len(final)
    forces = np.asarray(traj.forces[-1]) if len(traj.forces) else np.zeros((n, 3))
    max_force = float(np.max(np.linalg.norm(forces, axis=1))) if n else 0.0
    energy = float(traj.energies[-1]) / n
    disp = displacements(structure.frac_coords, final.frac_coords, final.lattice.matrix)
    return MLIPResult(
        atoms=AseAtomsAdaptor.get_atoms(final),
        energy_per_atom=energy,
        steps=max(len(traj.energies) - 1, 0),
        converged=max_force <= cfg.fmax,
        max_force=max_force,
        displacement_mean=float(disp.mean()),
        displacement_max=float(disp.max()),
        volume_change=float(final.volume / structure.volume - 1.0),
        wall_s=round(time.perf_counter() - start, 3),
    )
