"""Training steps sized to a wall-time budget (``time_budget_minutes`` of ``genms train ...``).

:func:`time_train_step` times the compiled train step (loss, gradient, optimiser update) on a
few real batches, :func:`steps_in_budget` turns the minutes into a number of steps and
:func:`with_steps` returns a copy of a command's config that trains that many steps (the
evaluation and checkpoint intervals capped by it). The config given is never changed.
"""

from __future__ import annotations

import copy
import time

import jax
import numpy as np
import optax
from omegaconf import DictConfig, open_dict

from genms.train.config import OptimConfig
from genms.train.optim import build_optimizer
from genms.train.task import Task

#: Fewest steps a budget yields, however slow the step.
MIN_STEPS = 10


def time_train_step(task: Task, batch_size: int, optim_cfg: OptimConfig, seed: int = 0,
                    n: int = 20, n_batches: int = 2) -> float:
    """Seconds per training step after compilation: the mean of ``n`` steps over ``n_batches``
    random training batches (drawn with ``seed``)."""
    tx = build_optimizer(optim_cfg, 10_000)
    rng = np.random.default_rng(seed)
    n_train = task.num_examples("train")
    batches = [
        task.make_batch("train", rng.choice(n_train, min(batch_size, n_train), replace=False)
                        .tolist(), batch_size)
        for _ in range(n_batches)
    ]
    params = task.init(jax.random.key(0), batches[0])
    opt = tx.init(params)

    @jax.jit
    def step(p, o, b, key):
        (loss, _), g = jax.value_and_grad(task.loss, has_aux=True)(p, b, key, True)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss

    params, opt, loss = step(params, opt, batches[0], jax.random.key(0))
    jax.block_until_ready(loss)
    t = time.perf_counter()
    for i in range(n):
        params, opt, loss = step(params, opt, batches[i % n_batches], jax.random.key(i))
    jax.block_until_ready(loss)
    return (time.perf_counter() - t) / n


def steps_in_budget(minutes: float, seconds_per_step: float, fraction: float = 1.0) -> int:
    """Steps that fill ``fraction`` of ``minutes`` (at least :data:`MIN_STEPS`)."""
    return max(int(minutes * 60 * fraction / seconds_per_step), MIN_STEPS)


def with_steps(cfg: DictConfig, steps: int) -> DictConfig:
    """A copy of ``cfg`` with ``train.steps = steps`` and ``train.eval_every`` /
    ``train.ckpt_every`` at most ``steps``."""
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.train.steps = steps
        out.train.eval_every = min(int(cfg.train.eval_every), steps)
        out.train.ckpt_every = min(int(cfg.train.ckpt_every), steps)
    return out
