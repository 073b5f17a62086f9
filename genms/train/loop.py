"""THE training loop, shared by the crystal denoiser and the formation-energy GNN.

It owns: restore-or-init, the jitted data-parallel step (EMA, NaN/inf guard), a background
thread preparing host batches, periodic logging / evaluation / checkpointing, exact resume and
wall-time-limited chunks (``train.max_minutes``) for machines with short job limits.

Determinism: the batch for step ``s`` is a function of ``(seed, s)`` only (a per-epoch
permutation), and the step key is ``fold_in(train_key, s)``, so a resumed run reproduces the
uninterrupted one exactly.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genms.tracking.writers import build_writer
from genms.train.bundle import load_bundle
from genms.train.checkpoint import Checkpointer
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.optim import build_optimizer, ema_update, learning_rate_schedule
from genms.train.periodic import should_run
from genms.train.sharding import make_mesh, maybe_initialize_distributed, replicated, shard_batch
from genms.train.state import TrainState
from genms.train.task import Task

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """Loss or gradients became NaN/inf; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    params: Any
    ema_params: Any
    step: int
    run_dir: Path
    completed: bool
    last_metrics: dict = field(default_factory=dict)


class BatchOrder:
    """Deterministic batch indices: per-epoch permutations seeded by ``(seed, epoch)``."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n <= 0:
            raise ValueError("the training split is empty")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.steps_per_epoch = max(n // batch_size, 1)
        self._cache: tuple[int, np.ndarray] | None = None

    def indices(self, step: int) -> list[int]:
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._cache = (epoch, perm)
        perm = self._cache[1]
        return perm[i * self.batch_size : (i + 1) * self.batch_size].tolist()


class _Prefetcher:
    """Builds host batches for steps ``start..end-1`` in a background thread."""

    def __init__(
        self, task: Task, order: BatchOrder, batch_size: int, start: int, end: int
    ) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=3)
        self._stop = threading.Event()

        def work() -> None:
            try:
                for s in range(start, end):
                    if self._stop.is_set():
                        return
                    self._q.put((s, task.make_batch("train", order.indices(s), batch_size)))
            except BaseException as exc:  # noqa: BLE001 - surfaced in the main thread
                self._q.put((None, exc))

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def next(self):
        s, item = self._q.get()
        if s is None:
            raise item
        return s, item

    def close(self) -> None:
        self._stop.set()
        while not self._q.empty():
            self._q.get_nowait()


def _check_config(train_cfg: TrainConfig, n_devices: int) -> None:
    if train_cfg.batch_size % n_devices:
        raise ValueError(
            f"train.batch_size={train_cfg.batch_size} must divide by the {n_devices} devices; "
            f"use a multiple of {n_devices}"
        )
    if train_cfg.steps <= 0:
        raise ValueError("train.steps must be positive")


def evaluate(task: Task, eval_fn, params, batch_size: int, mesh, key, max_batches: int | None,
             split: str = "val") -> dict:
    """Sum per-batch metric sums over a split and divide by the summed counts."""
    n = task.num_examples(split)
    if n == 0:
        return {}
    totals: dict[str, float] = {}
    n_batches = math.ceil(n / batch_size)
    if max_batches:
        n_batches = min(n_batches, max_batches)
    for b in range(n_batches):
        idx = list(range(b * batch_size, min((b + 1) * batch_size, n)))
        batch = shard_batch(mesh, task.make_batch(split, idx, batch_size))
        out = jax.device_get(eval_fn(params, batch, jax.random.fold_in(key, b)))
        for k, v in out.items():
            totals[k] = totals.get(k, 0.0) + float(v)
    count = max(totals.pop("count", 0.0), 1.0)
    return {f"{split}/{k}": v / count for k, v in totals.items()}


def warm_start(state: TrainState, bundle: str | Path, tx, sharding) -> TrainState:
    """Parameters (and EMA) from an exported bundle; a fresh optimiser state; step 0.

    The bundle's parameter tree must match the model's exactly (names and shapes): a warm start
    continues the same network, it does not transplant weights between architectures.
    """
    loaded, _ = load_bundle(bundle)
    want = jax.tree_util.tree_structure(state.params)
    if jax.tree_util.tree_structure(loaded) != want:
        raise ValueError(f"{bundle} holds parameters of a different network than this model; "
                         "warm-start only from a bundle of the same model config")
    bad = [
        (jax.tree_util.keystr(p), np.shape(a), np.shape(b))
        for (p, a), b in zip(
            jax.tree_util.tree_flatten_with_path(loaded)[0],
            jax.tree.leaves(state.params),
            strict=True,
        )
        if np.shape(a) != np.shape(b)
    ]
    if bad:
        raise ValueError(f"{bundle}: parameter shapes differ from this model's, e.g. {bad[0]}")
    params = jax.tree.map(lambda a, ref: jnp.asarray(a, ref.dtype), loaded, state.params)
    ema = jax.tree.map(jnp.copy, params)  # separate buffers: the train step donates both
    state = TrainState(state.step, params, tx.init(params), ema, state.first_bad_step)
    return jax.device_put(state, sharding)


def train(task: Task, train_cfg: TrainConfig, optim_cfg: OptimConfig,
          logger_cfg: LoggerConfig | None = None, config_dict: dict | None = None) -> TrainResult:
    """Train ``task``; resume from ``train_cfg.run_dir`` when ``train_cfg.resume``."""
    maybe_initialize_distributed()
    logger_cfg = logger_cfg or LoggerConfig()
    mesh = make_mesh(train_cfg.devices)
    _check_config(train_cfg, mesh.size)
    run_dir = Path(train_cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = Checkpointer(run_dir, train_cfg.keep)
    if ckpt.latest_step() is not None and not train_cfg.resume:
        raise FileExistsError(
            f"{run_dir} already holds checkpoints (step {ckpt.latest_step()}); "
            "pass train.resume=true to continue it or choose a new train.run_dir"
        )

    bs, total = train_cfg.batch_size, train_cfg.steps
    root = jax.random.key(train_cfg.seed)
    init_key, train_key, eval_key = (jax.random.fold_in(root, i) for i in range(3))
    make_order = getattr(task, "batch_order", None)
    order = (
        make_order(bs, train_cfg.seed)
        if make_order
        else BatchOrder(task.num_examples("train"), bs, train_cfg.seed)
    )
    tx = build_optimizer(optim_cfg, total)
    schedule = learning_rate_schedule(optim_cfg, total)
    example = task.make_batch("train", order.indices(0), bs)

    def init_state(key, batch) -> TrainState:
        params = task.init(key, batch)
        return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), params,
                          jnp.full((), -1, jnp.int32))

    repl = replicated(mesh)
    abstract = jax.eval_shape(init_state, init_key, example)
    state_sharding = jax.tree.map(lambda _: repl, abstract)
    start = 0
    if train_cfg.resume and ckpt.latest_step() is not None:
        target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                              abstract, state_sharding)
        state, _, start = ckpt.restore(target)
        log.info("resumed %s at step %d", run_dir, start)
    else:
        state = jax.jit(init_state, out_shardings=state_sharding)(
            init_key, shard_batch(mesh, example)
        )
        if train_cfg.init_from:
            state = warm_start(state, train_cfg.init_from, tx, state_sharding)
            log.info("warm start from %s (optimiser state and EMA rebuilt)", train_cfg.init_from)

    ema_decay = train_cfg.ema_decay

    @partial(jax.jit, donate_argnums=0)
    def train_step(state: TrainState, batch):
        key = jax.random.fold_in(train_key, state.step)
        (loss, metrics), grads = jax.value_and_grad(task.loss, has_aux=True)(
            state.params, batch, key, True
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        grad_norm = optax.global_norm(grads)
        ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)  # noqa: E731
        ema = ema_update(state.ema_params, params, ema_decay, state.step) if ema_decay else params
        first_bad = jnp.where((state.first_bad_step < 0) & ~ok, state.step, state.first_bad_step)
        new_state = TrainState(
            state.step + 1,
            keep(params, state.params),
            keep(opt_state, state.opt_state),
            keep(ema, state.ema_params),
            first_bad,
        )
        metrics = {
            **metrics,
            "loss": loss,
            "grad_norm": grad_norm,
            "update_norm": optax.global_norm(updates),
            "param_norm": optax.global_norm(params),
            "lr": schedule(state.step),
        }
        return new_state, metrics

    eval_fn = jax.jit(lambda p, b, k: task.eval_metrics(p, b, k))
    full_config = {**(config_dict or {}), "n_devices": int(mesh.size), "task": task.name}
    writer = build_writer(logger_cfg, run_dir, full_config)
    writer.write_config(full_config)

    def save(step: int) -> None:
        ckpt.save(
            step, state, {"config": full_config, "extras": task.checkpoint_extras(), "step": step}
        )

    def guard() -> None:
        bad = int(jax.device_get(state.first_bad_step))
        if bad >= 0:
            raise TrainingDiverged(
                f"loss or gradient became NaN/inf at step {bad + 1}; updates from then on were "
                f"skipped. The last good checkpoint (step {ckpt.latest_step()}) is kept in "
                f"{ckpt.directory}. "
                "Lower optim.lr, set optim.grad_clip, or check the data."
            )

    t0, last_log_t, window = time.time(), time.time(), []
    last_metrics: dict = {}
    completed = True
    prefetch = _Prefetcher(task, order, bs, start, total)
    try:
        step = start
        while step < total:
            s, host_batch = prefetch.next()
            state, metrics = train_step(state, shard_batch(mesh, host_batch))
            window.append(metrics)
            step = s + 1
            out_of_time = (
                train_cfg.max_minutes is not None
                and (time.time() - t0) > 60 * train_cfg.max_minutes
            )
            if should_run(step, train_cfg.log_every, total) or out_of_time:
                guard()
                host = jax.device_get(window)
                now = time.time()
                last_metrics = {f"train/{k}": float(np.mean([m[k] for m in host])) for k in host[0]}
                last_metrics["train/steps_per_second"] = len(window) / max(now - last_log_t, 1e-9)
                last_metrics["train/examples_per_second"] = (
                    last_metrics["train/steps_per_second"] * bs
                )
                window, last_log_t = [], now
                writer.write(step, last_metrics)
                log.info(
                    "step %d %s",
                    step,
                    " ".join(f"{k.split('/')[-1]}={v:.4g}" for k, v in last_metrics.items()),
                )
            if should_run(step, train_cfg.eval_every, total) and task.num_examples("val"):
                params = state.ema_params if ema_decay else state.params
                val = evaluate(task, eval_fn, params, bs, mesh, jax.random.fold_in(eval_key, step),
                               train_cfg.eval_max_batches)
                writer.write(step, val)
                last_metrics.update(val)
                log.info("step %d %s", step, " ".join(f"{k}={v:.4g}" for k, v in val.items()))
            if should_run(step, train_cfg.ckpt_every, total) or out_of_time:
                guard()
                save(step)
            if out_of_time and step < total:
                log.info(
                    "train.max_minutes reached at step %d; resume with train.resume=true", step
                )
                completed = False
                break
    finally:
        prefetch.close()
        writer.close()
        ckpt.close()
    return TrainResult(jax.device_get(state.params), jax.device_get(state.ema_params),
                       int(jax.device_get(state.step)), run_dir, completed, last_metrics)
