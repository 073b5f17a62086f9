"""Typed configs of the shared training loop (schemas for ``conf/train_*.yaml``).

Each numeric option carries its range as field metadata (:func:`genms.configs.ranged`); the
command checks every range before any data loads and lists every bad value at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from genms.configs import check_ranges, ranged


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser. Defaults are the paper's (Table 8): Adam, lr 5e-5, betas 0.9/0.99, no decay."""

    CONFIG_KEY: ClassVar[str] = "optim"
    name: str = "adam"  # adam | adamw
    lr: float = ranged(5e-5, 0, 10, lo_open=True)
    b1: float = ranged(0.9, 0, 1, hi_open=True)
    b2: float = ranged(0.99, 0, 1, hi_open=True)
    eps: float = ranged(1e-8, 0, 1, lo_open=True)
    weight_decay: float = ranged(0.0, 0, 10)
    warmup_steps: int = ranged(0, 0)
    # constant | cosine (decays to lr * final_lr_fraction at train.steps)
    schedule: str = "constant"
    final_lr_fraction: float = ranged(0.0, 0, 1)
    grad_clip: float | None = ranged(None, 0)  # 0 or null: no clipping

    def __post_init__(self) -> None:
        if self.name not in ("adam", "adamw"):
            raise ValueError(f"optim.name must be 'adam' or 'adamw', got {self.name!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(
                f"optim.schedule must be 'constant' or 'cosine', got {self.schedule!r}"
            )
        check_ranges(self, f"{self.CONFIG_KEY}.")


@dataclass(frozen=True)
class TrainConfig:
    CONFIG_KEY: ClassVar[str] = "train"
    seed: int = ranged(0, 0, 2**32 - 1)
    steps: int = ranged(1000, 1, 10**9)
    batch_size: int = ranged(512, 1, 10**6)
    ema_decay: float | None = ranged(0.9999, 0, 1, hi_open=True)
    log_every: int = ranged(100, 0)  # 0: only at the last step
    eval_every: int = ranged(1000, 0)  # 0: only at the last step
    ckpt_every: int = ranged(1000, 0)  # 0: only at the last step
    keep: int = ranged(3, 1, 1000)  # 0 would let the checkpoint manager delete every checkpoint
    run_dir: str = "runs/default"
    resume: bool = False
    eval_max_batches: int | None = ranged(None, 1)
    devices: int | None = ranged(None, 1)  # None = all local devices
    # stop (and checkpoint) after this wall time: chunked training
    max_minutes: float | None = ranged(None, 0)
    # a bundle folder: start from its parameters (fresh optimiser, EMA = params)
    init_from: str | None = None

    def __post_init__(self) -> None:
        check_ranges(self, f"{self.CONFIG_KEY}.")


@dataclass(frozen=True)
class LoggerConfig:
    jsonl: bool = True
    wandb: bool = False
    project: str = "genms"
    mode: str = "offline"  # W&B never goes online unless asked: offline | online | disabled
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    name: str | None = None
