"""The optax chain built from :class:`OptimConfig`, and the EMA update."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from genms.train.config import OptimConfig


def learning_rate_schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    if cfg.schedule == "constant":
        main = optax.constant_schedule(cfg.lr)
    elif cfg.schedule == "cosine":
        main = optax.cosine_decay_schedule(
            cfg.lr, max(total_steps - cfg.warmup_steps, 1), alpha=cfg.final_lr_fraction
        )
    else:
        raise ValueError(f"optim.schedule must be 'constant' or 'cosine', got {cfg.schedule!r}")
    if cfg.warmup_steps > 0:
        warm = optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps)
        return optax.join_schedules([warm, main], [cfg.warmup_steps])
    return main


def build_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    schedule = learning_rate_schedule(cfg, total_steps)
    parts = []
    if cfg.grad_clip:
        parts.append(optax.clip_by_global_norm(cfg.grad_clip))
    if cfg.name == "adam":
        parts.append(optax.adam(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps))
        if cfg.weight_decay:
            raise ValueError("optim.weight_decay needs optim.name=adamw")
    elif cfg.name == "adamw":
        parts.append(
            optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
        )
    else:
        raise ValueError(f"optim.name must be 'adam' or 'adamw', got {cfg.name!r}")
    return optax.chain(*parts)


def ema_update(ema_params, params, decay: float, step: jax.Array):
    """EMA with the usual warm-up ``min(decay, (1 + t) / (10 + t))`` so short runs are not frozen
    at their initialisation."""
    d = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda e, p: d * e + (1.0 - d) * p.astype(e.dtype), ema_params, params)
