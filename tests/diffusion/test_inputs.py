"""Padded denoiser inputs and the atomic-number channel."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from genms.diffusion.inputs import (
    MAX_Z,
    decode_atomic_numbers,
    densify,
    encode_atomic_numbers,
    pad_cells,
)
from genms.diffusion.lattice import LatticeNormaliser


def test_atomic_number_channel_round_trips_every_element():
    z = np.arange(1, MAX_Z + 1)
    x = np.asarray(encode_atomic_numbers(jnp.asarray(z)))
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(decode_atomic_numbers(x), z)
    np.testing.assert_array_equal(decode_atomic_numbers([-5.0, 5.0]), [1, MAX_Z])


def test_pad_cells_holds_each_cell_and_one_dummy_atom_per_padding_row():
    cells = [np.array([38, 22, 8, 8, 8]), np.array([0, 0])]
    numbers, mask, given = pad_cells(cells, [True, False], 4, 6)
    assert numbers.dtype == np.int32 and numbers.shape == mask.shape == (4, 6)
    np.testing.assert_array_equal(numbers[0], [38, 22, 8, 8, 8, 0])
    np.testing.assert_array_equal(mask.sum(1), [5, 2, 1, 1])
    np.testing.assert_array_equal(given, [True, False, False, False])
    assert not numbers[2:].any()


def test_densify_pads_every_crystal_and_normalises_the_lattice(train_arrays):
    norm = LatticeNormaliser.fit(train_arrays.lattice_params, train_arrays.n_atoms)
    dense = densify(train_arrays, 20, norm)
    assert len(dense) == len(train_arrays) and dense.frac.shape == (len(train_arrays), 20, 3)
    np.testing.assert_array_equal(dense.mask.sum(1), train_arrays.n_atoms)
    first = train_arrays.crystal(0)
    np.testing.assert_array_equal(dense.numbers[0, : first.n_atoms], first.atomic_numbers)
    np.testing.assert_allclose(dense.frac[0, : first.n_atoms], first.frac_coords, atol=1e-6)
    np.testing.assert_allclose(dense.lattice,
                               norm.encode(train_arrays.lattice_params, train_arrays.n_atoms))
