"""Glue between a Hydra config and the shared loop, used by ``genms train <task>``."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from genms.configs import to_dataclass, to_dict
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.export import export_from_run
from genms.train.loop import TrainResult, train
from genms.train.task import Task

log = logging.getLogger(__name__)


def run_training(cfg: DictConfig, task: Task, export_to: str | Path | None = None,
                 export_dtype: str = "float32") -> TrainResult:
    """Train ``task`` with ``cfg.train``/``cfg.optim``/``cfg.logger``; optionally export a
    bundle."""
    train_cfg = to_dataclass(TrainConfig, cfg.train)
    optim_cfg = to_dataclass(OptimConfig, cfg.optim)
    logger_cfg = to_dataclass(LoggerConfig, cfg.logger)
    log.info("training %d steps (batch %d) in %s; compiling the train step first (can take a "
             "minute)", train_cfg.steps, train_cfg.batch_size, train_cfg.run_dir)
    result = train(task, train_cfg, optim_cfg, logger_cfg, to_dict(cfg))
    log.info(
        "run %s: step %d%s",
        result.run_dir,
        result.step,
        "" if result.completed else " (chunk ended)",
    )
    if export_to and result.completed:
        path = export_from_run(result.run_dir, export_to, dtype=export_dtype)
        log.info("exported inference bundle to %s", path)
    return result
