"""``genms train energy``: prepared splits -> :class:`EnergyTask` -> the shared loop -> an
inference bundle (``export.path``, default the shipped ``genms/assets/models/energy``).

With ``time_budget_minutes`` the number of steps is chosen from a short timing of the train
step, so the cosine schedule ends inside the budget. ``genms eval energy`` is
:mod:`genms.benchmarks.energy`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig, OmegaConf

from genms.configs import ConfigError, ranged, to_dataclass
from genms.data.arrays import CrystalArrays
from genms.data.prepare import load_prepared
from genms.diffusion.data import arrays_from_csv
from genms.energy.ensemble import MIN_CALIBRATION, calibrate_bundle
from genms.energy.task import EnergyTask, EnergyTaskConfig
from genms.models.energy_gnn import EnergyGNNConfig
from genms.paths import repo_path
from genms.train.budget import steps_in_budget, time_train_step, with_steps
from genms.train.commands import run_training
from genms.train.config import OptimConfig, TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnergyDataConfig:
    dataset: str = "mp_cgcnn"
    target: str = "formation_energy_per_atom"
    train_split: str = "train"
    val_split: str = "val"
    # use only the first N training / validation crystals (smoke runs)
    max_train: int | None = ranged(None, 1, 10**9)
    max_val: int | None = ranged(None, 1, 10**9)
    # a CDVAE-format CSV (cif + target columns) instead of prepared arrays
    csv_train: str | None = None
    csv_val: str | None = None


@dataclass(frozen=True)
class TrainEnergyOptions:
    """The numeric top-level options of ``genms train energy`` (conf/train_energy.yaml)."""

    time_budget_minutes: float | None = ranged(None, 0, 10**6)  # null or 0: train.steps as given
    # with a time budget: fewer ensemble members rather than fewer epochs
    min_epochs: int | None = ranged(120, 0, 10**6)
    seed: int = ranged(0, 0, 2**32 - 1)  # train.seed (sweep it with -m seed=0,1)


@dataclass(frozen=True)
class ExportConfig:
    path: str | None = "genms/assets/models/energy"  # relative paths are relative to the repo
    dtype: str = "float16"


def task_config(node) -> EnergyTaskConfig:
    """The ``task`` node -> :class:`EnergyTaskConfig` (the nested frozen model schema
    separately)."""
    rest = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k != "model"}
    unknown = set(rest) - {f.name for f in dataclasses.fields(EnergyTaskConfig)}
    if unknown:
        raise ConfigError(f"invalid EnergyTaskConfig config: unknown key(s) {sorted(unknown)}")
    model = to_dataclass(EnergyGNNConfig, node.get("model"))
    return dataclasses.replace(EnergyTaskConfig(model=model), **rest)


def _load_split(dataset: str, split: str, cache_dir, csv: str | None = None, target: str = "",
                limit: int | None = None) -> CrystalArrays:
    """Prepared arrays of ``dataset``/``split``, or a CSV (repo-relative paths allowed) when
    given."""
    if csv:
        return arrays_from_csv(repo_path(csv), limit, targets=(target,))
    return load_prepared(dataset, split, cache_dir)


def build_task(cfg: DictConfig, batch_size: int):
    data = to_dataclass(EnergyDataConfig, cfg.data)
    task_cfg = task_config(cfg.task)
    cache_dir = cfg.paths.cache_dir
    train = _load_split(data.dataset, data.train_split, cache_dir, data.csv_train, data.target,
                        data.max_train)
    if data.max_train:
        train = train.subset(np.arange(min(data.max_train, len(train))))
    val = _load_split(data.dataset, data.val_split, cache_dir, data.csv_val, data.target,
                      data.max_val)
    if data.max_val:
        val = val.subset(np.arange(min(data.max_val, len(val))))
    splits = {"train": train, "val": val}
    fingerprint = {"dataset": data.dataset, "fingerprint": train.meta.get("fingerprint"),
                   "splits": [data.train_split, data.val_split]}
    return EnergyTask(task_cfg, splits, data.target, batch_size, fingerprint)


def train(cfg: DictConfig):
    """``genms train energy``."""
    train_cfg = to_dataclass(TrainConfig, cfg.train)
    optim_cfg = to_dataclass(OptimConfig, cfg.optim)
    export = to_dataclass(ExportConfig, cfg.export)
    t0 = time.time()
    task = build_task(cfg, train_cfg.batch_size)
    log.info("data + neighbour tables: %.1f s", time.time() - t0)
    budget = cfg.get("time_budget_minutes")
    if budget:
        per_step = time_train_step(task, train_cfg.batch_size, optim_cfg, seed=train_cfg.seed,
                                   n=15, n_batches=4)
        steps = steps_in_budget(budget, per_step)
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
        log.info(
            "train step %.1f ms -> %d steps (%.0f epochs) fit %.1f minutes",
            per_step * 1e3,
            steps,
            steps * train_cfg.batch_size / task.num_examples("train"),
            budget,
        )
        cfg = with_steps(cfg, steps)
    export_to = repo_path(export.path) if export.path else None
    result = run_training(cfg, task, export_to=export_to, export_dtype=export.dtype)
    if export_to and result.completed and task.cfg.ensemble_size > 1:
        if task.num_examples("val") < MIN_CALIBRATION:
            log.warning(
                "only %d val crystals: the ensemble spread is left uncalibrated",
                task.num_examples("val"),
            )
            return {
                "run_dir": str(result.run_dir),
                "step": result.step,
                "metrics": result.last_metrics,
                "bundle": str(export_to),
            }
        info = calibrate_bundle(export_to, task.splits["val"], task.target, "val")
        log.info(
            "ensemble spread scale %.3f fitted on val (coverage within 1 std: %.2f raw -> %.2f)",
            info["std_scale"],
            info["raw"]["within_1std"],
            info["calibrated"]["within_1std"],
        )
    return {"run_dir": str(result.run_dir), "step": result.step, "metrics": result.last_metrics,
            "bundle": str(export_to) if export_to and result.completed else None}
