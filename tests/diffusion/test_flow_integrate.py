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


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_churn_keeps_the_end_point_of_an_exact_field(method):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(2), 4)
    f1, l1 = jax.random.uniform(k1, (2, 5, 3)), jax.random.normal(k2, (2, 6))
    f0, l0 = jax.random.uniform(k3, (2, 5, 3)), jax.random.normal(k4, (2, 6))
    frac, lat, _ = integrate(_exact_field(f1, l1), f0, l0, jnp.zeros((2, 5)), 25, method,
                             anneal_coords=10.0, churn=3.0, churn_until=0.7,
                             key=jax.random.key(5))
    np.testing.assert_allclose(np.asarray(wrap(frac - f1)), 0.0, atol=2e-5)
    np.testing.assert_allclose(np.asarray(lat), np.asarray(l1), atol=2e-5)


def test_zero_churn_is_the_deterministic_sampler_bit_for_bit():
    k1, k2 = jax.random.split(jax.random.key(3))
    noisy = _exact_field(jax.random.uniform(k1, (1, 4, 3)), jnp.ones((1, 6)))

    def velocity(f, lat, z, t):
        vf, vl, vz = noisy(f, lat, z, t)
        return vf + jnp.sin(11.0 * f), vl + jnp.cos(lat), vz

    f0, l0, z0 = jax.random.uniform(k2, (1, 4, 3)), jnp.zeros((1, 6)), jnp.zeros((1, 4))
    plain = integrate(velocity, f0, l0, z0, 20, "heun", anneal_coords=10.0)
    keyed = integrate(velocity, f0, l0, z0, 20, "heun", anneal_coords=10.0, churn=0.0,
                      key=jax.random.key(9))
    for a, b in zip(plain, keyed, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        integrate(velocity, f0, l0, z0, 20, "heun", churn=1.0)


def test_churn_reaches_both_modes_from_one_start():
    """A field with two end points (the lattice channel's sign picks one): the deterministic
    sampler always ends where its start points, fresh noise lets one start reach both."""
    def velocity(f, lat, z, t):
        target = jnp.where(lat.mean(-1, keepdims=True) >= 0.0, 1.0, -1.0)
        left = jnp.maximum(1.0 - t, 1e-6)[:, None]
        return jnp.zeros_like(f), (target - lat) / left, jnp.zeros_like(z)

    n = 64
    f0, z0 = jnp.zeros((n, 1, 3)), jnp.zeros((n, 1))
    l0 = jnp.full((n, 6), 0.3)  # one start, n copies
    _, lat, _ = integrate(velocity, f0, l0, z0, 25, "euler")
    assert bool(jnp.all(lat > 0.99))
    _, lat, _ = integrate(velocity, f0, l0, z0, 25, "euler", churn=4.0, churn_until=0.7,
                          key=jax.random.key(0))
    ends = np.sign(np.asarray(lat.mean(-1)))
    assert np.allclose(np.abs(np.asarray(lat)), 1.0, atol=1e-4)
    assert 0 < (ends < 0).sum() < n
