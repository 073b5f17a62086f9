"""The denoiser: output shapes, permutation equivariance, padding invariance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genms.models.denoiser import Denoiser

from .conftest import TINY_MODEL


def _inputs(key, b=3, n=6, c=7):
    k1, k2, k3 = jax.random.split(key, 3)
    atom_x = jax.random.normal(k1, (b, n, c))
    numbers = jax.random.randint(k2, (b, n), 1, 90)
    mask = jnp.array([[True] * n, [True] * (n - 2) + [False] * 2, [True] * 3 + [False] * (n - 3)])[
        :b
    ]
    lattice = jax.random.normal(k3, (b, 6))
    logsnr = jnp.linspace(-10, 10, b)
    return atom_x, numbers, jnp.array([True, False, True])[:b], lattice, logsnr, mask


class _Jitted:
    """``model.apply`` under ``jax.jit`` (op-by-op dispatch of a whole network is slow on CPU)."""

    def __init__(self, model):
        self._apply = jax.jit(model.apply)

    def apply(self, *args):
        return self._apply(*args)


@pytest.fixture(scope="module")
def model_and_params():
    model = Denoiser(TINY_MODEL, 7)
    args = _inputs(jax.random.key(0))
    params = jax.jit(model.init)(jax.random.key(1), *args)
    # Zero-initialised output layers would make every test trivially pass: randomise them.
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(2), len(leaves))
    params = jax.tree.unflatten(
        tree, [x + 0.05 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    )
    return _Jitted(model), params, args


def test_output_shapes_and_padding_zeroed(model_and_params):
    model, params, args = model_and_params
    eps_atom, eps_lat = model.apply(params, *args)
    assert eps_atom.shape == (3, 6, 7) and eps_lat.shape == (3, 6)
    assert eps_atom.dtype == jnp.float32
    assert np.all(np.asarray(eps_atom)[2, 3:] == 0.0)  # padded slots
    assert float(jnp.abs(eps_atom).sum()) > 0


def test_permutation_equivariance(model_and_params):
    model, params, args = model_and_params
    atom_x, numbers, given, lattice, logsnr, mask = args
    mask = jnp.ones_like(mask)
    perm = jnp.array([3, 0, 5, 1, 4, 2])
    out = model.apply(params, atom_x, numbers, given, lattice, logsnr, mask)
    out_p = model.apply(
        params, atom_x[:, perm], numbers[:, perm], given, lattice, logsnr, mask[:, perm]
    )
    np.testing.assert_allclose(np.asarray(out_p[0]), np.asarray(out[0])[:, perm], atol=1e-5)
    np.testing.assert_allclose(np.asarray(out_p[1]), np.asarray(out[1]), atol=1e-5)


def test_padding_slots_do_not_change_real_outputs(model_and_params):
    model, params, args = model_and_params
    atom_x, numbers, given, lattice, logsnr, mask = args
    out = model.apply(params, atom_x, numbers, given, lattice, logsnr, mask)
    garbage = atom_x.at[1, 4:].set(100.0)
    out_g = model.apply(params, garbage, numbers.at[1, 4:].set(7), given, lattice, logsnr, mask)
    np.testing.assert_allclose(np.asarray(out_g[0])[1, :4], np.asarray(out[0])[1, :4], atol=1e-5)
    np.testing.assert_allclose(np.asarray(out_g[1])[1], np.asarray(out[1])[1], atol=1e-5)


def test_type_conditioning_changes_the_output(model_and_params):
    model, params, args = model_and_params
    atom_x, numbers, given, lattice, logsnr, mask = args
    out_a = model.apply(params, atom_x, numbers, jnp.ones_like(given), lattice, logsnr, mask)
    out_b = model.apply(params, atom_x, numbers + 1, jnp.ones_like(given), lattice, logsnr, mask)
    assert float(jnp.abs(out_a[0] - out_b[0]).max()) > 1e-4
