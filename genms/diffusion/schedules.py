"""Noise schedule and the ancestral sampling step (pure functions, continuous time t ∈ [0, 1]).

The variance-preserving process ``z_t = α_t x + σ_t ε`` with ``α_t² = sigmoid(λ_t)`` and
``σ_t² = sigmoid(-λ_t)`` is parametrised by its log-SNR ``λ_t``. The paper (Table 8) uses the
cosine schedule with λ clipped to [-20, 20]: ``λ(t) = -2 log tan(a t + b)`` with ``b`` and
``a`` chosen so that ``λ(0) = logsnr_max`` and ``λ(1) = logsnr_min``.

Sampling is ancestral (ε-prediction) over a uniform grid of steps. The variance of each step
interpolates in log space between the posterior variance ``β̃`` (small) and the forward
variance ``β`` (large): ``log Σ = γ log β + (1 − γ) log β̃`` (γ = 0.1 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from genms.configs import ranged


@dataclass(frozen=True)
class ScheduleConfig:
    kind: str = "cosine"  # "cosine" (paper) or "linear" (log-SNR linear in t)
    logsnr_min: float = ranged(-20.0, -100, 100)
    logsnr_max: float = ranged(20.0, -100, 100)


def logsnr_schedule(t: jax.Array, cfg: ScheduleConfig) -> jax.Array:
    """λ(t) for t in [0, 1]; decreasing, λ(0) = logsnr_max, λ(1) = logsnr_min."""
    t = jnp.asarray(t, jnp.float32)
    if cfg.kind == "cosine":
        b = jnp.arctan(jnp.exp(-0.5 * cfg.logsnr_max))
        a = jnp.arctan(jnp.exp(-0.5 * cfg.logsnr_min)) - b
        return -2.0 * jnp.log(jnp.tan(a * t + b))
    if cfg.kind == "linear":
        return cfg.logsnr_max + (cfg.logsnr_min - cfg.logsnr_max) * t
    raise ValueError(f"unknown schedule kind {cfg.kind!r}; use 'cosine' or 'linear'")


def alpha_sigma(logsnr: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(α, σ) with α² + σ² = 1."""
    return jnp.sqrt(jax.nn.sigmoid(logsnr)), jnp.sqrt(jax.nn.sigmoid(-logsnr))


def predict_x0(z_t: jax.Array, eps: jax.Array, logsnr_t: jax.Array) -> jax.Array:
    alpha, sigma = alpha_sigma(logsnr_t)
    return (z_t - sigma * eps) / alpha


def ancestral_step(
    z_t: jax.Array,
    x0: jax.Array,
    logsnr_t: jax.Array,
    logsnr_s: jax.Array,
    noise: jax.Array,
    gamma: float,
) -> jax.Array:
    """One draw from p(z_s | z_t) given the predicted clean value ``x0`` (s < t, λ_s > λ_t).

    Posterior q(z_s | z_t, x): mean ``r (α_s/α_t) z_t + (1 − r) α_s x`` with
    ``r = exp(λ_t − λ_s)``; variance ``β̃ = (1 − r) σ_s²``. The forward variance is
    ``β = (1 − r) σ_t²``.
    """
    alpha_s = jnp.sqrt(jax.nn.sigmoid(logsnr_s))
    alpha_st = jnp.sqrt((1.0 + jnp.exp(-logsnr_t)) / (1.0 + jnp.exp(-logsnr_s)))  # α_s / α_t
    r = jnp.exp(logsnr_t - logsnr_s)
    one_minus_r = -jnp.expm1(logsnr_t - logsnr_s)
    mean = r * alpha_st * z_t + one_minus_r * alpha_s * x0
    log_small = jnp.log(one_minus_r) + jax.nn.log_sigmoid(-logsnr_s)
    log_large = jnp.log(one_minus_r) + jax.nn.log_sigmoid(-logsnr_t)
    logvar = gamma * log_large + (1.0 - gamma) * log_small
    return mean + jnp.exp(0.5 * logvar) * noise


def time_grid(steps: int) -> jax.Array:
    """Times t_i = i / steps for i = steps .. 0 (float32[steps + 1], decreasing)."""
    return jnp.linspace(1.0, 0.0, steps + 1, dtype=jnp.float32)
