"""Cosine log-SNR schedule endpoints and the ancestral step's posterior."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from genms.diffusion.schedules import (
    ScheduleConfig,
    alpha_sigma,
    ancestral_step,
    logsnr_schedule,
    predict_x0,
    time_grid,
)


def test_cosine_endpoints_and_monotone():
    cfg = ScheduleConfig()
    lam = np.asarray(logsnr_schedule(jnp.linspace(0, 1, 257), cfg))
    assert abs(lam[0] - 20.0) < 5e-3 and abs(lam[-1] + 20.0) < 5e-3  # float32 tan/log
    assert np.all(np.diff(lam) < 0)
    # Midpoint of the symmetric cosine schedule is log-SNR 0.
    assert abs(float(logsnr_schedule(0.5, cfg))) < 1e-4


def test_linear_schedule_and_unknown_kind():
    lam = logsnr_schedule(
        jnp.array([0.0, 1.0]), ScheduleConfig(kind="linear", logsnr_min=-5, logsnr_max=5)
    )
    np.testing.assert_allclose(np.asarray(lam), [5.0, -5.0])
    try:
        logsnr_schedule(0.5, ScheduleConfig(kind="nope"))
    except ValueError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("unknown schedule kind must raise")


def test_variance_preserving():
    alpha, sigma = alpha_sigma(jnp.linspace(-20, 20, 11))
    np.testing.assert_allclose(np.asarray(alpha**2 + sigma**2), 1.0, atol=1e-6)


def test_predict_x0_inverts_forward():
    x = jnp.array([0.3, -0.7])
    eps = jnp.array([1.2, -0.4])
    lam = jnp.float32(1.5)
    a, s = alpha_sigma(lam)
    np.testing.assert_allclose(
        np.asarray(predict_x0(a * x + s * eps, eps, lam)), np.asarray(x), atol=1e-5
    )


def test_ancestral_step_matches_gaussian_posterior():
    # q(z_s | z_t, x) for the VP process, written with α_{t|s} = α_t / α_s.
    lam_t, lam_s = jnp.float32(-1.0), jnp.float32(2.0)
    a_t, s_t = alpha_sigma(lam_t)
    a_s, s_s = alpha_sigma(lam_s)
    a_ts = a_t / a_s
    var_ts = s_t**2 - a_ts**2 * s_s**2
    mean = a_ts * s_s**2 / s_t**2 * 0.4 + a_s * var_ts / s_t**2 * (-0.3)
    var_small = var_ts * s_s**2 / s_t**2
    z = ancestral_step(jnp.float32(0.4), jnp.float32(-0.3), lam_t, lam_s, jnp.float32(0.0), 0.1)
    np.testing.assert_allclose(float(z), float(mean), rtol=1e-5)
    # The noise scale interpolates log-variances: γ = 0 gives the posterior variance.
    z1 = ancestral_step(jnp.float32(0.4), jnp.float32(-0.3), lam_t, lam_s, jnp.float32(1.0), 0.0)
    np.testing.assert_allclose(float(z1 - z), float(jnp.sqrt(var_small)), rtol=1e-4)
    z2 = ancestral_step(jnp.float32(0.4), jnp.float32(-0.3), lam_t, lam_s, jnp.float32(1.0), 1.0)
    np.testing.assert_allclose(float(z2 - z), float(jnp.sqrt(var_ts)), rtol=1e-4)


def test_time_grid():
    g = np.asarray(time_grid(256))
    assert g.shape == (257,) and g[0] == 1.0 and g[-1] == 0.0


def test_sampling_noise_is_finite_near_the_end():
    lam = logsnr_schedule(time_grid(256), ScheduleConfig())
    z = ancestral_step(
        jnp.ones(3), jnp.zeros(3), lam[-2], lam[-1], jax.random.normal(jax.random.key(0), (3,)), 0.1
    )
    assert np.all(np.isfinite(np.asarray(z)))
