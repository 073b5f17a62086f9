"""Periodic geometry: minimum interatomic distance over all periodic images."""

from __future__ import annotations

import itertools

import numpy as np
from ase.data import covalent_radii

from genms.crystal.structure import Crystal


def _image_range(lattice: np.ndarray, cutoff: float) -> np.ndarray:
    """Number of images needed along each axis so every vector shorter than ``cutoff`` is seen."""
    inv = np.linalg.inv(lattice)
    # Distance between lattice planes along axis i is 1 / |row i of inv(lattice).T|.
    heights = 1.0 / np.linalg.norm(inv.T, axis=1)
    return np.ceil(cutoff / heights).astype(int)


def min_distance(crystal: Crystal, search_cutoff: float | None = None) -> float:
    """Smallest distance (Å) between any two atoms, periodic images and self-images included.

    Exact: it searches every image within ``search_cutoff`` (default: the longest
    lattice vector, which always contains the nearest image of a single atom). Returns
    ``inf`` for an empty crystal.
    """
    if crystal.n_atoms == 0:
        return float("inf")
    lattice = crystal.lattice
    if search_cutoff is None:
        search_cutoff = float(np.linalg.norm(lattice, axis=1).max())
    n = np.minimum(_image_range(lattice, search_cutoff), 6)
    shifts = np.array(
        list(itertools.product(*(range(-k, k + 1) for k in n))), dtype=np.float64
    )  # [S, 3]
    frac = crystal.frac_coords
    # [n, n, S, 3]
    diff = frac[:, None, None, :] - frac[None, :, None, :] + shifts[None, None, :, :]
    dist = np.linalg.norm(diff @ lattice, axis=-1)
    zero_shift = np.all(shifts == 0, axis=1)
    eye = np.eye(crystal.n_atoms, dtype=bool)
    dist[eye[:, :, None] & zero_shift[None, None, :]] = np.inf  # an atom and itself
    return float(dist.min())


def pair_min_distances(crystal: Crystal, search_cutoff: float | None = None) -> np.ndarray:
    """``[n, n]`` matrix of the shortest periodic distance (Å) between atoms i and j.

    Images are searched within ``search_cutoff`` (default: the longest lattice vector); the
    diagonal holds each atom's distance to its own nearest image.
    """
    n_atoms = crystal.n_atoms
    if n_atoms == 0:
        return np.zeros((0, 0))
    lattice = crystal.lattice
    if search_cutoff is None:
        search_cutoff = float(np.linalg.norm(lattice, axis=1).max())
    n = np.minimum(_image_range(lattice, search_cutoff), 6)
    shifts = np.array(list(itertools.product(*(range(-k, k + 1) for k in n))), dtype=np.float64)
    frac = crystal.frac_coords
    diff = frac[:, None, None, :] - frac[None, :, None, :] + shifts[None, None, :, :]
    dist = np.linalg.norm(diff @ lattice, axis=-1)
    zero_shift = np.all(shifts == 0, axis=1)
    eye = np.eye(n_atoms, dtype=bool)
    dist[eye[:, :, None] & zero_shift[None, None, :]] = np.inf
    return dist.min(axis=-1)


def covalent_radius(z: int) -> float:
    """Covalent radius (Å) of element ``z`` (Cordero et al. 2008, from ASE's data)."""
    return float(covalent_radii[int(z)])


def shortest_contact(crystal: Crystal) -> tuple[int, int, float, float] | None:
    """The pair of atoms closest relative to the sum of their covalent radii.

    Returns ``(i, j, distance in Å, distance / (r_i + r_j))``, or None for an empty crystal.
    """
    if crystal.n_atoms == 0:
        return None
    dist = pair_min_distances(crystal)
    radii = np.asarray(covalent_radii)[np.asarray(crystal.atomic_numbers, dtype=np.int64)]
    ratio = dist / (radii[:, None] + radii[None, :])
    i, j = np.unravel_index(int(np.argmin(ratio)), ratio.shape)
    return int(i), int(j), float(dist[i, j]), float(ratio[i, j])
