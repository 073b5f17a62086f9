"""The lattice token's six channels and their normaliser (fitted on the training split).

Raw features of a cell with n atoms and parameters (a, b, c, α, β, γ):
``[log(a / n^⅓), log(b / n^⅓), log(c / n^⅓), α, β, γ]`` (angles in degrees). Dividing the
lengths by n^⅓ removes most of the size dependence (the volume per atom is roughly constant),
and the log keeps lengths positive after decoding. Each feature is then standardised with the
training-set mean and standard deviation, which the bundle stores; nothing here is a literal.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

#: Decoded angles are clipped to this range (degrees) so every sample is a real cell.
ANGLE_RANGE = (30.0, 150.0)


def raw_features(lattice_params: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
    """float[..., 6] params + int[...] atom counts -> float64[..., 6] raw features."""
    params = np.asarray(lattice_params, np.float64)
    scale = np.cbrt(np.maximum(np.asarray(n_atoms, np.float64), 1.0))[..., None]
    return np.concatenate([np.log(params[..., :3] / scale), params[..., 3:]], axis=-1)


#: Smallest accepted value of the cell's volume factor (volume / (a b c)); 1 for a cube.
MIN_VOLUME_FACTOR = 0.05


def volume_factor(angles_deg: np.ndarray) -> np.ndarray:
    """sqrt(1 − cos²α − cos²β − cos²γ + 2 cosα cosβ cosγ); NaN-free, ≤ 0 for impossible angle
    triples."""
    c = np.cos(np.radians(angles_deg))
    v = 1.0 - (c**2).sum(-1) + 2.0 * c.prod(-1)
    return np.sign(v) * np.sqrt(np.abs(v))


def shrink_to_valid_angles(angles_deg: np.ndarray) -> np.ndarray:
    """Move each impossible (or nearly flat) angle triple towards 90° until it spans a cell."""
    angles = np.asarray(angles_deg, np.float64)
    out = angles.copy()
    bad = volume_factor(out) < MIN_VOLUME_FACTOR
    for s in np.linspace(0.95, 0.0, 20):
        if not bad.any():
            break
        trial = 90.0 + s * (angles - 90.0)
        out = np.where(bad[..., None], trial, out)
        bad = volume_factor(out) < MIN_VOLUME_FACTOR
    return out


@dataclass(frozen=True)
class LatticeNormaliser:
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, lattice_params: np.ndarray, n_atoms: np.ndarray) -> LatticeNormaliser:
        raw = raw_features(lattice_params, n_atoms)
        if raw.shape[0] < 2:
            raise ValueError("fitting the lattice normaliser needs at least 2 training crystals")
        std = np.maximum(raw.std(axis=0), 1e-3)
        return cls(tuple(float(v) for v in raw.mean(axis=0)), tuple(float(v) for v in std))

    def encode(self, lattice_params: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
        raw = raw_features(lattice_params, n_atoms)
        return ((raw - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def decode(self, features: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
        """Normalised features -> [a, b, c, α, β, γ] (Å, degrees), angles clipped to a valid
        range."""
        raw = np.asarray(features, np.float64) * np.asarray(self.std) + np.asarray(self.mean)
        scale = np.cbrt(np.maximum(np.asarray(n_atoms, np.float64), 1.0))[..., None]
        lengths = np.exp(np.clip(raw[..., :3], -10.0, 10.0)) * scale
        angles = shrink_to_valid_angles(np.clip(raw[..., 3:], *ANGLE_RANGE))
        return np.concatenate([lengths, angles], axis=-1)

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> LatticeNormaliser:
        return cls(tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))


def decode_in_graph(features, n_atoms, mean, std):
    """JAX version of :meth:`LatticeNormaliser.decode` for use inside a network.

    float[B, 6] normalised features, float[B] atom counts -> float[B, 6] (Å, degrees). Angles are
    clipped to :data:`ANGLE_RANGE` only; impossible triples are left to the caller (the periodic
    geometry floors the cell's volume factor).
    """
    raw = features * jnp.asarray(std, jnp.float32) + jnp.asarray(mean, jnp.float32)
    scale = jnp.cbrt(jnp.maximum(n_atoms, 1.0))[:, None]
    lengths = jnp.exp(jnp.clip(raw[:, :3], -10.0, 10.0)) * scale
    angles = jnp.clip(raw[:, 3:], *ANGLE_RANGE)
    return jnp.concatenate([lengths, angles], axis=-1)
