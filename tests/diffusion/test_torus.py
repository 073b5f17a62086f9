"""Fractional coordinates on the torus: encodings, wrap, shortest differences."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from genms.diffusion.torus import coord_channels, decode_frac, encode_frac, project_x0, torus_delta


@pytest.mark.parametrize("mode", ["gaussian", "torus"])
def test_round_trip(mode):
    frac = np.random.default_rng(0).random((5, 4, 3)).astype(np.float32)
    x = encode_frac(jnp.asarray(frac), mode)
    assert x.shape[-1] == coord_channels(mode)
    back = np.asarray(decode_frac(x, mode))
    np.testing.assert_allclose(np.asarray(torus_delta(back, frac, np)), 0.0, atol=1e-5)


def test_torus_embedding_identifies_periodic_images():
    a = encode_frac(jnp.array([[0.999, 0.0, 0.25]]), "torus")
    b = encode_frac(jnp.array([[-0.001, 1.0, 1.25]]), "torus")
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    # ... whereas the plain Gaussian channels see a jump across the cell boundary.
    g = np.asarray(encode_frac(jnp.array([0.999, 0.001]), "gaussian"))
    assert abs(g[0] - g[1]) > 1.9


def test_decode_wraps_into_unit_interval():
    x = jnp.array([[1.7, -2.2, 0.9999999]])
    frac = np.asarray(decode_frac(x, "gaussian"))
    assert np.all((frac >= 0) & (frac < 1))
    np.testing.assert_allclose(frac[0, :2], [0.35, 0.4], atol=1e-5)


def test_torus_decode_is_scale_invariant_projection():
    frac = jnp.array([[0.1, 0.6, 0.95]])
    x = encode_frac(frac, "torus") * 0.2  # off the circle: decoding is the radial projection
    np.testing.assert_allclose(np.asarray(decode_frac(x, "torus")), np.asarray(frac), atol=1e-5)
    p = np.asarray(project_x0(x, "torus"))
    np.testing.assert_allclose(p[..., :3] ** 2 + p[..., 3:] ** 2, 1.0, atol=1e-4)


def test_torus_delta_shortest():
    d = np.asarray(torus_delta(jnp.array([0.95, 0.05, 0.5]), jnp.array([0.05, 0.95, 0.1])))
    np.testing.assert_allclose(d, [-0.1, 0.1, 0.4], atol=1e-6)


def test_unknown_mode():
    with pytest.raises(ValueError, match="coordinate mode"):
        coord_channels("spherical")
