"""Typed configs of the shared training loop (schemas for ``conf/train_*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class LoggerConfig:
    jsonl: bool = True
    wandb: bool = False
    project: str = "genms"
    mode: str = "offline"  # W&B never goes online unless asked: offline | online | disabled
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    name: str | None = None
