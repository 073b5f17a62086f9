"""The flow sampler's integrator: on the exact straight-path field every variant ends on the
target, and anti-annealing never moves a step past the end point it predicts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genms.diffusion.flow import COORD_STD, anneal_factor, integrate
from genms.models.periodic import wrap


def _exact_field(f1, l1):
    """The velocity of the straight path that ends at (f1, l1), as the network would give it."""
    def velocity(f, lat, z, t):
        left = jnp.maximum(1.0 - t, 1e-6)
        return (wrap(f1 - f) / left[:, None, None] / COORD_STD, (l1 - lat) / left[:, None],
                jnp.zeros_like(z))
    return velocity


@pytest.mark.parametrize("method", ["euler", "heun"])
@pytest.mark.parametrize("steps", [7, 50])
@pytest.mark.parametrize("anneal", [0.0, 10.0])
def test_every_integrator_ends_on_the_target_of_an_exact_field(method, steps, anneal):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)
    f1 = jax.random.uniform(k1, (2, 5, 3))
    l1 = jax.random.normal(k2, (2, 6))
    f0, l0 = jax.random.uniform(k3, (2, 5, 3)), jax.random.normal(k4, (2, 6))
    z = jnp.zeros((2, 5))
    frac, lat, _ = integrate(_exact_field(f1, l1), f0, l0, z, steps, method,
                             anneal_coords=anneal, anneal_lattice=anneal)
    np.testing.assert_allclose(np.asarray(wrap(frac - f1)), 0.0, atol=2e-5)
    np.testing.assert_allclose(np.asarray(lat), np.asarray(l1), atol=2e-5)


def test_anneal_factor_is_capped_at_the_predicted_end_point():
    h = 1.0 / 50
    starts = jnp.arange(50) * h
    factor = anneal_factor(10.0, starts, starts, h)
    assert float(factor[0]) == pytest.approx(1.0)
    assert float(factor[10]) == pytest.approx(1.0 + 10.0 * 0.2)  # far from the end: 1 + s t
    assert bool(jnp.all(factor * h <= (1.0 - starts) + 1e-6))  # never past the end point
    assert float(factor[-1]) == pytest.approx(1.0, abs=1e-5)  # the last step lands on it
    np.testing.assert_allclose(np.asarray(anneal_factor(0.0, starts, starts, h)), 1.0)


def test_uncapped_anneal_overshoots_the_end_point():
    k1, k2 = jax.random.split(jax.random.key(1))
    f1, f0 = jax.random.uniform(k1, (1, 4, 3)), jax.random.uniform(k2, (1, 4, 3))
    l1 = jnp.ones((1, 6))
    noisy = _exact_field(f1 + 0.01, l1)  # a field whose end point moves a little with the state

    def velocity(f, lat, z, t):  # noise on the predicted end point, as a network's error
        vf, vl, vz = noisy(f, lat, z, t)
        return vf + 0.01 * jnp.sin(37.0 * f) / jnp.maximum(1.0 - t, 1e-6)[:, None, None], vl, vz

    def end_error(cap):
        frac, _, _ = integrate(velocity, f0, jnp.zeros((1, 6)), jnp.zeros((1, 4)), 50, "heun",
                               anneal_coords=10.0, anneal_cap=cap)
        return float(jnp.abs(wrap(frac - f1 - 0.01)).max())

    assert end_error(True) < 0.05 < end_error(False)
