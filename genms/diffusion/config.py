"""Typed configs of π_lo (schemas for ``conf/train_diffusion.yaml``, ``sample.yaml``, ``eval_csp.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genms.diffusion.schedules import ScheduleConfig


@dataclass(frozen=True)
class DiffusionConfig:
    """What is diffused and how (paper Table 8 defaults; every departure is one of these knobs).

    Attributes:
      schedule: the log-SNR schedule (cosine, λ ∈ [−20, 20]).
      coords: ``torus`` ((cos, sin) embedding of each fractional coordinate) or ``gaussian``
        (plain 2f − 1 channels).
      joint_fraction: share of training crystals whose atom types are diffused through the
        continuous atomic-number channel instead of given (enables generation of types).
      lattice_weight / type_weight: weights of the lattice-token and atom-type ε losses.
      max_atoms: atom slots of a training example (cells above it are dropped with a warning).
      sampling_steps / gamma: ancestral steps and log-variance interpolation (256, 0.1).
      project_x0: during sampling, pull each predicted clean value back onto the data
        manifold (unit circles for torus coordinates, [−1, 1] otherwise).
      compute_dtype: matmul dtype: ``auto`` = bfloat16 on GPU/TPU, float32 on CPU.
    """

    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    coords: str = "torus"
    joint_fraction: float = 0.1
    lattice_weight: float = 1.0
    type_weight: float = 1.0
    max_atoms: int = 20
    sampling_steps: int = 256
    gamma: float = 0.1
    project_x0: bool = True
    compute_dtype: str = "auto"


@dataclass(frozen=True)
class DiffusionDataConfig:
    """Which prepared arrays to train on (``genms data prepare`` builds them)."""

    dataset: str = "mp_union"
    train_split: str = "train"
    val_split: str = "val"
    train_limit: int | None = None  # first n training crystals (debugging)
    val_limit: int | None = 2048
    csv_train: str | None = None  # read a CDVAE-format CSV instead of the prepared arrays
    csv_val: str | None = None
    z_prior_min_count: int = 5


@dataclass(frozen=True)
class SamplerConfig:
    """Inference settings; ``None`` fields fall back to the values stored in the bundle."""

    bundle: str | None = None  # None = the shipped model in genms/assets/models/denoiser
    steps: int | None = None
    gamma: float | None = None
    compute_dtype: str = "auto"
    buckets: tuple[int, ...] = (4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 52, 64)
    max_batch: int = 4096  # crystals per compiled batch at the smallest bucket
    tokens_per_batch: int = 65536  # caps the batch of larger buckets: batch × (atoms + 1)
    min_batch: int = 8
