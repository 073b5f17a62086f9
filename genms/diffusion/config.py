"""Typed configs of π_lo (schemas for ``conf/train_diffusion.yaml``, ``sample.yaml``,
``eval_csp.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genms.configs import ranged
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
      process: ``ddpm`` (the paper's ε-prediction on the log-SNR schedule; needs the set
        transformer, ``model=denoiser``) or ``flow`` (flow matching on the torus,
        :mod:`genms.diffusion.flow`; needs the periodic network, ``model=denoiser_v2``).
      coord_weight: weight of the coordinate loss (flow).
      integrator / anneal_coords / anneal_lattice / anneal_cap: flow sampling defaults (Euler or
        Heun; the velocity scaled by ``1 + s·t``, capped so that no step passes the end point it
        predicts).
      churn / churn_until: flow sampling: the share of the remaining noise drawn afresh per unit
        time, on steps that end before ``churn_until`` (0 = deterministic;
        :func:`genms.diffusion.flow.renoise`).
    """

    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    coords: str = "torus"
    joint_fraction: float = ranged(0.1, 0, 1)
    lattice_weight: float = ranged(1.0, 0, 1e4)
    type_weight: float = ranged(1.0, 0, 1e4)
    max_atoms: int = ranged(20, 1, 512)
    sampling_steps: int = ranged(256, 1, 100_000)
    gamma: float = ranged(0.1, 0, 1)
    project_x0: bool = True
    compute_dtype: str = "auto"
    process: str = "ddpm"
    coord_weight: float = ranged(1.0, 0, 1e4)
    integrator: str = "euler"
    anneal_coords: float = ranged(0.0, 0, 100)
    anneal_lattice: float = ranged(0.0, 0, 100)
    anneal_cap: bool = True
    churn: float = ranged(0.0, 0, 100)
    churn_until: float = ranged(0.7, 0, 1)
    # atom-slot sizes of training batches below max_atoms
    train_buckets: tuple[int, ...] = ranged((), 1, 512)
    # share of each bucket's batches drawn per epoch (() = all)
    train_bucket_fraction: tuple[float, ...] = ranged((), 0, 1, lo_open=True)

    def __post_init__(self) -> None:
        # YAML and bundle JSON give lists; the config is frozen and hashable with tuples.
        object.__setattr__(self, "train_buckets", tuple(int(b) for b in self.train_buckets))
        object.__setattr__(
            self, "train_bucket_fraction", tuple(float(f) for f in self.train_bucket_fraction)
        )
        if self.process not in PROCESSES:
            raise ValueError(f"diffusion.process must be one of {PROCESSES}, got {self.process!r}")
        if self.integrator not in ("euler", "heun"):
            raise ValueError(
                f"diffusion.integrator must be 'euler' or 'heun', got {self.integrator!r}"
            )
        checks = {
            "joint_fraction": (0.0, 1.0),
            "gamma": (0.0, 1.0),
            "coord_weight": (0.0, 1e4),
            "lattice_weight": (0.0, 1e4),
            "type_weight": (0.0, 1e4),
            "anneal_coords": (0.0, 100.0),
            "anneal_lattice": (0.0, 100.0),
            "churn": (0.0, 100.0),
            "churn_until": (0.0, 1.0),
        }
        for name, (lo, hi) in checks.items():
            value = float(getattr(self, name))
            if not lo <= value <= hi:  # also rejects NaN
                raise ValueError(f"diffusion.{name} must be in [{lo:g}, {hi:g}], got {value}")
        if any(not 0.0 < float(f) <= 1.0 for f in self.train_bucket_fraction):
            raise ValueError(
                "diffusion.train_bucket_fraction values must be in (0, 1], "
                f"got {self.train_bucket_fraction}"
            )
        if not 1 <= int(self.max_atoms) <= 512:
            raise ValueError(f"diffusion.max_atoms must be in [1, 512], got {self.max_atoms}")
        if not 1 <= int(self.sampling_steps) <= 100_000:
            raise ValueError(
                f"diffusion.sampling_steps must be in [1, 100000], got {self.sampling_steps}"
            )


PROCESSES = ("ddpm", "flow")


@dataclass(frozen=True)
class DiffusionDataConfig:
    """Which prepared arrays to train on (``genms data prepare`` builds them)."""

    dataset: str = "mp_union"
    train_split: str = "train"
    val_split: str = "val"
    train_limit: int | None = ranged(None, 1, 10**9)  # first n training crystals (debugging)
    val_limit: int | None = ranged(2048, 1, 10**9)
    csv_train: str | None = None  # read a CDVAE-format CSV instead of the prepared arrays
    csv_val: str | None = None
    z_prior_min_count: int = ranged(5, 0, 10**9)


@dataclass(frozen=True)
class SamplerConfig:
    """Inference settings; ``None`` fields fall back to the values stored in the bundle."""

    bundle: str | None = None  # None = the shipped model in genms/assets/models/denoiser
    steps: int | None = ranged(None, 1, 10_000)
    gamma: float | None = ranged(None, 0, 1)
    integrator: str | None = None  # flow bundles: euler | heun
    # flow bundles: velocity scale slope s in 1 + s·t
    anneal_coords: float | None = ranged(None, 0, 100)
    anneal_lattice: float | None = ranged(None, 0, 100)
    # flow bundles: cap the scaled step at the predicted end point (None: the bundle's default)
    anneal_cap: bool | None = None
    # flow bundles: fresh noise per unit time on steps ending before churn_until (0: deterministic)
    churn: float | None = ranged(None, 0, 100)
    churn_until: float | None = ranged(None, 0, 1)
    compute_dtype: str = "auto"
    buckets: tuple[int, ...] = ranged((4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 52, 64), 1, 1000)
    max_batch: int = ranged(4096, 1, 1 << 20)  # crystals per compiled batch at the smallest bucket
    # caps the batch of larger buckets: batch × (atoms + 1)
    tokens_per_batch: int = ranged(65536, 1, 1 << 30)
    # periodic models: caps batch × atoms² (pair tensors; memory)
    pairs_per_batch: int = ranged(262144, 1, 1 << 32)
    min_batch: int = ranged(8, 1, 1 << 16)

    def __post_init__(self) -> None:
        # YAML gives a list; the config is frozen and hashable with a tuple.
        object.__setattr__(self, "buckets", tuple(int(b) for b in self.buckets))


@dataclass(frozen=True)
class TrainDiffusionOptions:
    """The numeric top-level options of ``genms train diffusion`` (conf/train_diffusion.yaml)."""

    time_budget_minutes: float | None = ranged(None, 0, 10**6)  # null or 0: train.steps as given
    time_budget_fraction: float = ranged(0.9, 0, 1, lo_open=True)
    seed: int = ranged(0, 0, 2**32 - 1)  # train.seed (sweep it with -m seed=0,1)


@dataclass(frozen=True)
class ValMatchVariant(SamplerConfig):
    """One sampler setting of ``val_match.variants`` (its sampler values replace
    ``val_match.sampler``'s)."""

    name: str = ""


@dataclass(frozen=True)
class ValMatchConfig:
    """``val_match`` of conf/train_diffusion.yaml: the CSP match rate (k = 1) on the first ``n``
    validation cells at the end of a run (0: off), for each sampler variant."""

    n: int = ranged(0, 0, 10**6)
    seed: int = ranged(0, 0, 2**32 - 1)
    workers: int | None = ranged(None, 1, 1024)  # matching processes; null = all cores but one
    match_timeout_s: float = ranged(20.0, 0, 86_400)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    variants: list[ValMatchVariant] = field(default_factory=list)
