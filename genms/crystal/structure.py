"""The host-side crystal type (numpy only).

A crystal is stored as the paper's compact representation (GenMS §2.1): per atom the
fractional coordinates (x, y, z) wrapped to [0, 1) and the atomic number, plus the
lattice. The lattice is kept as a 3x3 matrix of row vectors in Å (lossless), and the
paper's 2x3 lattice vector (three lengths in Å, three angles in degrees) is derived from
it with :func:`lattice_to_params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def wrap_frac(frac_coords: np.ndarray) -> np.ndarray:
    """Wrap fractional coordinates into [0, 1) (robust to -0.0 and 1.0 after rounding)."""
    wrapped = np.mod(np.asarray(frac_coords, dtype=np.float64), 1.0)
    wrapped[wrapped >= 1.0] = 0.0
    return wrapped


def lattice_to_params(lattice: np.ndarray) -> np.ndarray:
    """Lattice matrix (rows = a, b, c in Å) -> [a, b, c, alpha, beta, gamma] (Å, degrees)."""
    lattice = np.asarray(lattice, dtype=np.float64)
    lengths = np.linalg.norm(lattice, axis=-1)

    def angle(u: np.ndarray, v: np.ndarray, nu: np.ndarray, nv: np.ndarray) -> np.ndarray:
        cos = np.sum(u * v, axis=-1) / (nu * nv)
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    a, b, c = lattice[..., 0, :], lattice[..., 1, :], lattice[..., 2, :]
    la, lb, lc = lengths[..., 0], lengths[..., 1], lengths[..., 2]
    alpha = angle(b, c, lb, lc)
    beta = angle(a, c, la, lc)
    gamma = angle(a, b, la, lb)
    return np.stack([la, lb, lc, alpha, beta, gamma], axis=-1)


def lattice_from_params(params: np.ndarray) -> np.ndarray:
    """[a, b, c, alpha, beta, gamma] -> lattice matrix in pymatgen's standard orientation.

    Matches ``pymatgen.core.Lattice.from_parameters`` (a along x after the c-axis convention
    used there), vectorised over leading axes. Raises ``ValueError`` for parameters that do
    not describe a cell (non-positive lengths or impossible angle triples).
    """
    params = np.asarray(params, dtype=np.float64)
    a, b, c = params[..., 0], params[..., 1], params[..., 2]
    alpha, beta, gamma = (np.radians(params[..., i]) for i in (3, 4, 5))
    cos_a, cos_b, cos_g = np.cos(alpha), np.cos(beta), np.cos(gamma)
    sin_a, sin_b = np.sin(alpha), np.sin(beta)
    val = (cos_a * cos_b - cos_g) / (sin_a * sin_b)
    val = np.clip(val, -1.0, 1.0)
    gamma_star = np.arccos(val)
    zeros = np.zeros_like(a)
    vector_a = np.stack([a * sin_b, zeros, a * cos_b], axis=-1)
    vector_b = np.stack(
        [-b * sin_a * np.cos(gamma_star), b * sin_a * np.sin(gamma_star), b * cos_a], axis=-1
    )
    vector_c = np.stack([zeros, zeros, c], axis=-1)
    lattice = np.stack([vector_a, vector_b, vector_c], axis=-2)
    return lattice


@dataclass(frozen=True)
class Crystal:
    """One periodic crystal.

    Attributes:
      frac_coords: float64[n_atoms, 3], fractional, wrapped to [0, 1).
      atomic_numbers: int64[n_atoms], proton numbers (1..118).
      lattice: float64[3, 3], row vectors in Å.
      properties: free-form scalar targets (e.g. ``formation_energy_per_atom``) and ids.
    """

    frac_coords: np.ndarray
    atomic_numbers: np.ndarray
    lattice: np.ndarray
    properties: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        frac = np.asarray(self.frac_coords, dtype=np.float64).reshape(-1, 3)
        numbers = np.asarray(self.atomic_numbers, dtype=np.int64).reshape(-1)
        lattice = np.asarray(self.lattice, dtype=np.float64).reshape(3, 3)
        if frac.shape[0] != numbers.shape[0]:
            raise ValueError(
                f"frac_coords has {frac.shape[0]} atoms but atomic_numbers has {numbers.shape[0]}"
            )
        if numbers.size and (numbers.min() < 1 or numbers.max() > 118):
            raise ValueError(f"atomic numbers must lie in 1..118, got {sorted(set(numbers))}")
        object.__setattr__(self, "frac_coords", wrap_frac(frac))
        object.__setattr__(self, "atomic_numbers", numbers)
        object.__setattr__(self, "lattice", lattice)

    @property
    def n_atoms(self) -> int:
        return int(self.atomic_numbers.shape[0])

    @property
    def lattice_params(self) -> np.ndarray:
        """The paper's 2x3 lattice vector flattened: [a, b, c (Å), alpha, beta, gamma (deg)]."""
        return lattice_to_params(self.lattice)

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.lattice)))

    @property
    def cart_coords(self) -> np.ndarray:
        return self.frac_coords @ self.lattice

    @classmethod
    def from_params(
        cls,
        frac_coords: np.ndarray,
        atomic_numbers: np.ndarray,
        lattice_params: np.ndarray,
        properties: dict | None = None,
    ) -> Crystal:
        """Build from the compact representation (lengths in Å, angles in degrees)."""
        return cls(
            frac_coords, atomic_numbers, lattice_from_params(lattice_params), properties or {}
        )

    def compact(self) -> np.ndarray:
        """The paper's A x 4 tensor: fractional x, y, z and the raw atomic number."""
        return np.concatenate(
            [self.frac_coords, self.atomic_numbers[:, None].astype(np.float64)], 1
        )
