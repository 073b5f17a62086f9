"""Typed configs of the shared training loop (schemas for ``conf/train_*.yaml``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def _check(key: str, value, low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> None:
    """Raise a ValueError naming ``key`` unless ``value`` is a finite number in the range."""
    if value is None and optional:
        return
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    bounds = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(f"{key}={value} is out of range: it must be a finite number in {bounds}"
                         + (" (or null)" if optional else ""))


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser. Defaults are the paper's (Table 8): Adam, lr 5e-5, betas 0.9/0.99, no decay."""

    name: str = "adam"  # adam | adamw
    lr: float = 5e-5
    b1: float = 0.9
    b2: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"  # constant | cosine (decays to lr * final_lr_fraction at train.steps)
    final_lr_fraction: float = 0.0
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if self.name not in ("adam", "adamw"):
            raise ValueError(f"optim.name must be 'adam' or 'adamw', got {self.name!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"optim.schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        _check("optim.lr", self.lr, 0, 10, low_open=True)
        _check("optim.b1", self.b1, 0, 1, high_open=True)
        _check("optim.b2", self.b2, 0, 1, high_open=True)
        _check("optim.eps", self.eps, 0, 1, low_open=True)
        _check("optim.weight_decay", self.weight_decay, 0, 10)
        _check("optim.warmup_steps", self.warmup_steps, 0)
        _check("optim.final_lr_fraction", self.final_lr_fraction, 0, 1)
        _check("optim.grad_clip", self.grad_clip, 0, optional=True)  # 0 or null: no clipping


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 1000
    batch_size: int = 512
    ema_decay: float | None = 0.9999
    log_every: int = 100
    eval_every: int = 1000
    ckpt_every: int = 1000
    keep: int = 3
    run_dir: str = "runs/default"
    resume: bool = False
    eval_max_batches: int | None = None
    devices: int | None = None  # None = all local devices
    max_minutes: float | None = None  # stop (and checkpoint) after this wall time: chunked training
    init_from: str | None = None  # a bundle folder: start from its parameters (fresh optimiser, EMA = params)

    def __post_init__(self) -> None:
        _check("train.seed", self.seed, 0)
        _check("train.steps", self.steps, 1)
        _check("train.batch_size", self.batch_size, 1)
        _check("train.ema_decay", self.ema_decay, 0, 1, high_open=True, optional=True)
        _check("train.log_every", self.log_every, 0)  # 0: only at the last step
        _check("train.eval_every", self.eval_every, 0)  # 0: only at the last step
        _check("train.ckpt_every", self.ckpt_every, 0)  # 0: only at the last step
        _check("train.keep", self.keep, 1, 1000)  # 0 would let the checkpoint manager delete every checkpoint
        _check("train.eval_max_batches", self.eval_max_batches, 1, optional=True)
        _check("train.devices", self.devices, 1, optional=True)
        _check("train.max_minutes", self.max_minutes, 0, optional=True)


@dataclass(frozen=True)
class LoggerConfig:
    jsonl: bool = True
    wandb: bool = False
    project: str = "genms"
    mode: str = "offline"  # W&B never goes online unless asked: offline | online | disabled
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    name: str | None = None
