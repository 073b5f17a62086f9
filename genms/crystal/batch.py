"""Padded dense batches of crystals (the diffusion model's input) and the atomic-number channel.

A :class:`DenseBatch` holds ``B`` crystals padded to ``N`` atoms:

* ``frac_coords``: float32[B, N, 3], fractional in [0, 1); padded rows are 0.
* ``atomic_numbers``: int32[B, N]; padded entries are 0.
* ``atom_mask``: bool[B, N], True for real atoms.
* ``lattice_params``: float32[B, 6], lengths (Å) and angles (degrees).

The paper feeds the atomic number to the network as one continuous scalar "normalised to the
range of the input". :func:`encode_atomic_number` maps Z in [1, ``MAX_Z``] linearly to
[-1, 1] and :func:`decode_atomic_number` rounds back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genms.crystal.structure import Crystal

#: Largest atomic number the continuous channel covers (Lr = 103 covers every dataset here).
MAX_Z = 103


def encode_atomic_number(z: np.ndarray) -> np.ndarray:
    """Z in [1, MAX_Z] -> [-1, 1] (float)."""
    return (np.asarray(z, dtype=np.float32) - 1.0) / (MAX_Z - 1.0) * 2.0 - 1.0


def decode_atomic_number(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_atomic_number`, rounded and clipped to [1, MAX_Z]."""
    z = (np.asarray(x, dtype=np.float64) + 1.0) / 2.0 * (MAX_Z - 1.0) + 1.0
    return np.clip(np.rint(z), 1, MAX_Z).astype(np.int64)


@dataclass(frozen=True)
class DenseBatch:
    frac_coords: np.ndarray
    atomic_numbers: np.ndarray
    atom_mask: np.ndarray
    lattice_params: np.ndarray

    @property
    def batch_size(self) -> int:
        return int(self.atom_mask.shape[0])

    @property
    def max_atoms(self) -> int:
        return int(self.atom_mask.shape[1])

    @property
    def n_atoms(self) -> np.ndarray:
        return self.atom_mask.sum(axis=1)


def collate(
    crystals: Sequence[Crystal], max_atoms: int, batch_size: int | None = None
) -> DenseBatch:
    """Pad ``crystals`` to ``max_atoms`` atoms (and to ``batch_size`` rows with empty crystals)."""
    b = len(crystals) if batch_size is None else batch_size
    if len(crystals) > b:
        raise ValueError(f"{len(crystals)} crystals do not fit a batch of {b}")
    frac = np.zeros((b, max_atoms, 3), np.float32)
    numbers = np.zeros((b, max_atoms), np.int32)
    mask = np.zeros((b, max_atoms), bool)
    params = np.tile(np.array([1, 1, 1, 90, 90, 90], np.float32), (b, 1))
    for i, c in enumerate(crystals):
        if c.n_atoms > max_atoms:
            raise ValueError(f"crystal {i} has {c.n_atoms} atoms; the batch holds {max_atoms}")
        frac[i, : c.n_atoms] = c.frac_coords
        numbers[i, : c.n_atoms] = c.atomic_numbers
        mask[i, : c.n_atoms] = True
        params[i] = c.lattice_params
    return DenseBatch(frac, numbers, mask, params)


def uncollate(batch: DenseBatch) -> list[Crystal]:
    """Inverse of :func:`collate` (padding rows with no atoms are dropped)."""
    out = []
    for i in range(batch.batch_size):
        m = np.asarray(batch.atom_mask[i], bool)
        if not m.any():
            continue
        out.append(
            Crystal.from_params(
                np.asarray(batch.frac_coords[i])[m],
                np.asarray(batch.atomic_numbers[i])[m],
                np.asarray(batch.lattice_params[i]),
            )
        )
    return out
