"""The denoiser's inputs: crystals padded to fixed atom slots, and the atomic-number channel.

Training pads every crystal of a split once (:func:`densify`: fractional coordinates,
atomic numbers, mask and normalised lattice features, each with a leading crystal axis);
sampling pads a batch of requested cells (:func:`pad_cells`: atomic numbers, mask and whether
each cell's types are given). A padded slot has atomic number 0, coordinates 0 and mask False.

The paper feeds the atomic number to the network as one continuous scalar "normalised to the
range of the input": :func:`encode_atomic_numbers` maps Z in [1, :data:`MAX_Z`] linearly onto
[−1, 1] and :func:`decode_atomic_numbers` rounds back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from genms.data.arrays import CrystalArrays
from genms.diffusion.lattice import LatticeNormaliser

#: Largest atomic number the continuous channel covers (Lr = 103 covers every dataset here).
MAX_Z = 103


def encode_atomic_numbers(numbers: jax.Array) -> jax.Array:
    """Atomic numbers -> the continuous channel in [−1, 1] (float32)."""
    return (numbers.astype(jnp.float32) - 1.0) / (MAX_Z - 1.0) * 2.0 - 1.0


def decode_atomic_numbers(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_atomic_numbers`, rounded and clipped to [1, MAX_Z]."""
    z = (np.asarray(x, dtype=np.float64) + 1.0) / 2.0 * (MAX_Z - 1.0) + 1.0
    return np.clip(np.rint(z), 1, MAX_Z).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class DenseSplit:
    """A split as padded arrays: frac [M, N, 3], numbers [M, N], mask [M, N], lattice [M, 6]."""

    frac: np.ndarray
    numbers: np.ndarray
    mask: np.ndarray
    lattice: np.ndarray

    def __len__(self) -> int:
        return int(self.mask.shape[0])


def densify(arrays: CrystalArrays, max_atoms: int, normaliser: LatticeNormaliser) -> DenseSplit:
    """Pad every crystal to ``max_atoms`` slots (callers drop larger cells first)."""
    n = np.asarray(arrays.n_atoms, np.int64)
    if n.size and n.max() > max_atoms:
        raise ValueError(f"a crystal has {n.max()} atoms; max_atoms is {max_atoms}")
    m = len(arrays)
    row = np.repeat(np.arange(m), n)
    slot = np.arange(n.sum()) - np.repeat(arrays.offsets[:-1], n)
    frac = np.zeros((m, max_atoms, 3), np.float32)
    numbers = np.zeros((m, max_atoms), np.int32)
    mask = np.zeros((m, max_atoms), bool)
    frac[row, slot] = arrays.frac_coords
    numbers[row, slot] = arrays.atomic_numbers
    mask[row, slot] = True
    lattice = normaliser.encode(arrays.lattice_params, n)
    return DenseSplit(frac, numbers, mask, lattice)


def pad_cells(cells: Sequence[np.ndarray], type_given: Sequence[bool], size: int,
              slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sampling batch of ``size`` rows and ``slots`` atom slots: (numbers int32[size, slots],
    mask bool[size, slots], type_given bool[size]). Row i holds ``cells[i]`` (atomic numbers,
    0 = to be generated); rows past the cells hold one dummy atom (their results are discarded).
    """
    numbers = np.zeros((size, slots), np.int32)
    mask = np.zeros((size, slots), bool)
    given = np.zeros((size,), bool)
    for row, (cell, known) in enumerate(zip(cells, type_given, strict=True)):
        numbers[row, : len(cell)] = cell
        mask[row, : len(cell)] = True
        given[row] = known
    mask[len(cells):, 0] = True
    return numbers, mask, given
