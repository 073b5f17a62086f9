"""Target normalisers of the energy GNN, fitted on the training split only.

* a per-element linear reference ``ref[Z]`` (ridge least squares of the formation energy per
  atom on the composition fractions), so the network learns the residual;
* ``scale``: the standard deviation of that residual (the network's output unit);
* the target range and the elements seen in training (the predictor's trust guard).

All of it is saved in checkpoints and bundles (:meth:`Normalisers.to_dict`), never hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genms.models.energy_gnn import N_SPECIES


def composition_fractions(numbers: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
    """float64[n_crystals, N_SPECIES]: atom fraction of each element per crystal."""
    n = len(n_atoms)
    owner = np.repeat(np.arange(n), n_atoms)
    x = np.zeros((n, N_SPECIES))
    np.add.at(x, (owner, np.asarray(numbers, np.int64)), 1.0)
    return x / np.maximum(np.asarray(n_atoms, np.float64), 1.0)[:, None]


@dataclass(frozen=True)
class Normalisers:
    element_ref: np.ndarray  # float32[N_SPECIES], eV/atom
    scale: float  # eV/atom
    target_min: float
    target_max: float
    seen_elements: tuple[int, ...]

    def to_dict(self) -> dict:
        return {
            "element_ref": [float(v) for v in self.element_ref],
            "scale": float(self.scale),
            "target_min": float(self.target_min),
            "target_max": float(self.target_max),
            "seen_elements": list(self.seen_elements),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Normalisers:
        return cls(
            np.asarray(d["element_ref"], np.float32),
            float(d["scale"]),
            float(d["target_min"]),
            float(d["target_max"]),
            tuple(int(z) for z in d["seen_elements"]),
        )


def fit_normalisers(
    numbers: np.ndarray, n_atoms: np.ndarray, targets: np.ndarray, ridge: float = 1e-3
) -> Normalisers:
    """Fit on the training split: ridge reference per element, residual scale, range, elements."""
    targets = np.asarray(targets, np.float64)
    if not np.all(np.isfinite(targets)):
        raise ValueError(
            "training targets contain NaN/inf; filter the split before fitting normalisers"
        )
    x = composition_fractions(numbers, n_atoms)
    seen = np.flatnonzero(x.sum(0) > 0)
    xs = x[:, seen]
    lhs = xs.T @ xs + ridge * len(targets) * np.eye(len(seen)) / max(len(seen), 1)
    ref_seen = np.linalg.solve(lhs, xs.T @ targets)
    ref = np.zeros(N_SPECIES)
    ref[seen] = ref_seen
    # unseen elements get the mean reference (their predictions are flagged anyway)
    ref[np.setdiff1d(np.arange(1, N_SPECIES), seen)] = float(ref_seen.mean()) if len(seen) else 0.0
    resid = targets - xs @ ref_seen
    scale = float(max(resid.std(), 1e-3))
    return Normalisers(
        ref.astype(np.float32),
        scale,
        float(targets.min()),
        float(targets.max()),
        tuple(int(z) for z in seen),
    )
