"""``genms train energy`` and ``genms eval energy``.

* ``train``: prepared splits -> :class:`EnergyTask` -> the shared loop -> an inference bundle
  (``export.path``, default the shipped ``genms/assets/models/energy``). With
  ``time_budget_minutes`` the number of steps is chosen from a short timing of the train step,
  so the cosine schedule ends inside the budget.
* ``eval_energy``: a bundle on the held-out test split (MAE/RMSE), on the MP-20 test subset and
  on WBM, plus the inference throughput; writes ``benchmarks/results/energy.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, open_dict

from genms.configs import ConfigError, to_dataclass
from genms.energy.task import EnergyTaskConfig
from genms.io import atomic_write_json
from genms.paths import REPO_ROOT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnergyDataConfig:
    dataset: str = "mp_cgcnn"
    target: str = "formation_energy_per_atom"
    train_split: str = "train"
    val_split: str = "val"
    max_train: int | None = None  # use only the first N training crystals (smoke runs)
    max_val: int | None = None  # use only the first N validation crystals (smoke runs)


@dataclass(frozen=True)
class ExportConfig:
    path: str | None = "genms/assets/models/energy"  # relative paths are relative to the repo
    dtype: str = "float16"


@dataclass(frozen=True)
class EvalSet:
    name: str
    dataset: str
    split: str
    note: str = ""


@dataclass(frozen=True)
class EnergyEvalConfig:
    """``test`` and each of ``extra_sets`` are ``{name, dataset, split, note}`` (see :class:`EvalSet`)."""

    checkpoint: str | None = None  # bundle folder; None = the shipped bundle
    target: str = "formation_energy_per_atom"
    test: dict = field(default_factory=lambda: {"name": "test", "dataset": "mp_cgcnn", "split": "test"})
    extra_sets: list[dict] = field(default_factory=list)
    speed_dataset: str = "mp_20"
    speed_split: str = "test"
    speed_min_structures: int = 20000
    speed_repeats: int = 3
    output: str | None = "benchmarks/results/energy.json"

    def sets(self) -> tuple[EvalSet, list[EvalSet]]:
        def one(d) -> EvalSet:
            unknown = set(d) - {f.name for f in dataclasses.fields(EvalSet)}
            if unknown or not {"name", "dataset", "split"} <= set(d):
                raise ConfigError(f"an eval set needs name, dataset, split (and optional note); got {dict(d)}")
            return EvalSet(**d)

        return one(self.test), [one(d) for d in self.extra_sets]


def _repo_path(p: str | Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else REPO_ROOT / p


def _load_split(dataset: str, split: str, cache_dir):
    from genms.data.prepare import load_prepared
    from genms.paths import resolve_cache_dir

    return load_prepared(dataset, split, resolve_cache_dir(cache_dir))


def _time_step(task, train_cfg, optim_cfg, n: int = 15) -> float:
    """Seconds per training step (value_and_grad + optimiser update), after compilation."""
    import jax
    import optax

    from genms.train.optim import build_optimizer

    tx = build_optimizer(optim_cfg, 1000)
    rng = np.random.default_rng(train_cfg.seed)
    n_train, bs = task.num_examples("train"), train_cfg.batch_size
    batches = [task.make_batch("train", rng.permutation(n_train)[:bs].tolist(), bs) for _ in range(4)]
    params = task.init(jax.random.key(0), batches[0])
    opt = tx.init(params)

    @jax.jit
    def step(p, o, b):
        (loss, _), g = jax.value_and_grad(task.loss, has_aux=True)(p, b, None, True)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss

    params, opt, loss = step(params, opt, batches[0])
    jax.block_until_ready(loss)
    t = time.perf_counter()
    for i in range(n):
        params, opt, loss = step(params, opt, batches[i % len(batches)])
    jax.block_until_ready(loss)
    return (time.perf_counter() - t) / n


def task_config(node) -> EnergyTaskConfig:
    """The ``task`` node -> :class:`EnergyTaskConfig` (the nested frozen model schema separately)."""
    from omegaconf import OmegaConf

    from genms.models.energy_gnn import EnergyGNNConfig

    rest = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k != "model"}
    unknown = set(rest) - {f.name for f in dataclasses.fields(EnergyTaskConfig)}
    if unknown:
        raise ConfigError(f"invalid EnergyTaskConfig config: unknown key(s) {sorted(unknown)}")
    model = to_dataclass(EnergyGNNConfig, node.get("model"))
    return dataclasses.replace(EnergyTaskConfig(model=model), **rest)


def build_task(cfg: DictConfig, batch_size: int):
    from genms.energy.task import EnergyTask

    data = to_dataclass(EnergyDataConfig, cfg.data)
    task_cfg = task_config(cfg.task)
    cache_dir = cfg.paths.cache_dir
    train = _load_split(data.dataset, data.train_split, cache_dir)
    if data.max_train:
        train = train.subset(np.arange(min(data.max_train, len(train))))
    val = _load_split(data.dataset, data.val_split, cache_dir)
    if data.max_val:
        val = val.subset(np.arange(min(data.max_val, len(val))))
    splits = {"train": train, "val": val}
    fingerprint = {"dataset": data.dataset, "fingerprint": train.meta.get("fingerprint"),
                   "splits": [data.train_split, data.val_split]}
    return EnergyTask(task_cfg, splits, data.target, batch_size, fingerprint)


def train(cfg: DictConfig):
    """``genms train energy``."""
    from genms.train.commands import run_training
    from genms.train.config import OptimConfig, TrainConfig

    train_cfg = to_dataclass(TrainConfig, cfg.train)
    optim_cfg = to_dataclass(OptimConfig, cfg.optim)
    export = to_dataclass(ExportConfig, cfg.export)
    t0 = time.time()
    task = build_task(cfg, train_cfg.batch_size)
    log.info("data + neighbour tables: %.1f s", time.time() - t0)
    budget = cfg.get("time_budget_minutes")
    if budget:
        per_step = _time_step(task, train_cfg, optim_cfg)
        steps = max(int(budget * 60 / per_step), 10)
        members = task.cfg.ensemble_size
        epochs = steps * train_cfg.batch_size / task.num_examples("train")
        min_epochs = cfg.get("min_epochs") or 0
        if epochs < min_epochs and members > 1:
            # the step cost is about linear in the members: trade members for epochs
            new = max(1, int(members * epochs / min_epochs))
            steps = int(steps * members / new)
            log.info("%.0f epochs with %d members < min_epochs=%d: training %d members instead",
                     epochs, members, min_epochs, new)
            task.set_ensemble_size(new)
        log.info("train step %.1f ms -> %d steps (%.0f epochs) fit %.1f minutes", per_step * 1e3, steps,
                 steps * train_cfg.batch_size / task.num_examples("train"), budget)
        with open_dict(cfg):
            cfg.train.steps = steps
            cfg.train.eval_every = min(int(cfg.train.eval_every), steps)
            cfg.train.ckpt_every = min(int(cfg.train.ckpt_every), steps)
    export_to = _repo_path(export.path) if export.path else None
    result = run_training(cfg, task, export_to=export_to, export_dtype=export.dtype)
    if export_to and result.completed and task.cfg.ensemble_size > 1:
        from genms.energy.ensemble import MIN_CALIBRATION, calibrate_bundle

        if task.num_examples("val") < MIN_CALIBRATION:
            log.warning("only %d val crystals: the ensemble spread is left uncalibrated", task.num_examples("val"))
            return {"run_dir": str(result.run_dir), "step": result.step, "metrics": result.last_metrics,
                    "bundle": str(export_to)}
        info = calibrate_bundle(export_to, task.splits["val"], task.target, "val")
        log.info("ensemble spread scale %.3f fitted on val (coverage within 1 std: %.2f raw -> %.2f)",
                 info["std_scale"], info["raw"]["within_1std"], info["calibrated"]["within_1std"])
    return {"run_dir": str(result.run_dir), "step": result.step, "metrics": result.last_metrics,
            "bundle": str(export_to) if export_to and result.completed else None}


def _errors(pred, target) -> dict:
    err = pred.e_form - target
    out = {
        "mae_ev_per_atom": float(np.mean(np.abs(err))),
        "rmse_ev_per_atom": float(np.sqrt(np.mean(err**2))),
        "n": int(len(err)),
        "in_range_fraction": float(np.mean(pred.in_range)),
        "mae_in_range": float(np.mean(np.abs(err[pred.in_range]))) if pred.in_range.any() else None,
    }
    if pred.std is not None:
        z = np.abs(err) / np.maximum(pred.std, 1e-6)
        out["ensemble"] = {
            "mean_std": float(np.mean(pred.std)),
            "within_1std": float(np.mean(z <= 1.0)),
            "within_2std": float(np.mean(z <= 2.0)),
            "spearman_abs_err_vs_std": _spearman(np.abs(err), pred.std),
        }
    return out


def _spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _throughput(predictor, arrays, min_structures: int, repeats: int) -> dict:
    from genms.data.arrays import CrystalArrays

    reps = max(1, -(-min_structures // max(len(arrays), 1)))
    big = CrystalArrays.concatenate([arrays] * reps)
    predictor.predict_arrays(big)  # compile every bucket shape
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predictor.predict_arrays(big)
        times.append(time.perf_counter() - t)
    best = min(times)
    return {"structures": len(big), "seconds": best, "structures_per_second": len(big) / best,
            "max_atoms": int(big.n_atoms.max())}


def eval_energy(cfg: DictConfig):
    """``genms eval energy``: accuracy on the test sets + throughput -> JSON."""
    import jax

    from genms.data.prepare import DataNotPreparedError
    from genms.energy.predictor import DEFAULT_BUNDLE, load_predictor

    ev = to_dataclass(EnergyEvalConfig, cfg.eval)
    cache_dir = cfg.paths.cache_dir
    ckpt = _repo_path(ev.checkpoint) if ev.checkpoint else DEFAULT_BUNDLE
    predictor = load_predictor(ckpt)
    result: dict = {
        "checkpoint": str(ckpt.relative_to(REPO_ROOT)) if ckpt.is_relative_to(REPO_ROOT) else str(ckpt),
        "command": "genms eval energy " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "hardware": f"{jax.devices()[0].device_kind} ({jax.default_backend()}, {jax.device_count()} device(s))",
        "bundle_dtype": predictor.extras.get("bundle", {}).get("dtype"),
        "ensemble_size": predictor.extras.get("ensemble_size", 1),
        "training": predictor.extras.get("provenance", {}).get("step"),
    }
    test_set, extra_sets = ev.sets()
    test = _load_split(test_set.dataset, test_set.split, cache_dir)
    t = _errors(predictor.predict_arrays(test), test.targets[ev.target])
    result.update({"mae_ev_per_atom": t["mae_ev_per_atom"], "rmse_ev_per_atom": t["rmse_ev_per_atom"],
                   "n_test": t["n"], "test_set": f"{test_set.dataset}/{test_set.split}", "test": t})
    for s in extra_sets:
        try:
            arr = _load_split(s.dataset, s.split, cache_dir)
        except DataNotPreparedError as exc:
            log.warning("skipping %s: %s", s.name, exc)
            result[f"mae_{s.name}"] = None
            continue
        y = arr.targets[ev.target]
        ok = np.isfinite(y)
        e = _errors(predictor.predict_arrays(arr.subset(np.flatnonzero(ok))), y[ok])
        result[f"mae_{s.name}"] = e["mae_ev_per_atom"]
        result[s.name] = {**e, "set": f"{s.dataset}/{s.split}", "note": s.note}
    try:
        speed_arr = _load_split(ev.speed_dataset, ev.speed_split, cache_dir)
    except DataNotPreparedError:
        speed_arr = test.subset(np.flatnonzero(test.n_atoms <= 20))
    sp = _throughput(predictor, speed_arr, ev.speed_min_structures, ev.speed_repeats)
    result["structures_per_second"] = sp["structures_per_second"]
    result["throughput"] = {**sp, "set": f"{ev.speed_dataset}/{ev.speed_split}",
                            "what": "predict_arrays end to end: host packing, device neighbour search, GNN"}
    if ev.output:
        atomic_write_json(_repo_path(ev.output), result)
        log.info("wrote %s", _repo_path(ev.output))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))  # noqa: T201 - CLI output
    return result

