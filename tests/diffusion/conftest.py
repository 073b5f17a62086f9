"""Shared tiny fixtures for the diffusion tests: 40 fixture crystals, a tiny denoiser, a sampler."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

from genms.diffusion.config import DiffusionConfig, SamplerConfig
from genms.diffusion.data import arrays_from_csv
from genms.diffusion.sampler import load_sampler
from genms.diffusion.schedules import ScheduleConfig
from genms.diffusion.task import DiffusionTask
from genms.models.denoiser import DenoiserConfig
from genms.train.bundle import save_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

TINY_MODEL = DenoiserConfig(
    base_width=32,
    width_multipliers=(1, 2),
    blocks_per_level=1,
    mid_blocks=1,
    head_dim=16,
    mlp_expansion=2,
    dropout=0.0,
    time_embed_dim=32,
)
TINY_DIFFUSION = DiffusionConfig(schedule=ScheduleConfig(), coords="torus", joint_fraction=0.25,
                                 sampling_steps=4, compute_dtype="float32")
TINY_SAMPLER = SamplerConfig(buckets=(8, 16, 20), max_batch=64, tokens_per_batch=4096, min_batch=4)


@pytest.fixture(scope="session")
def train_arrays():
    return arrays_from_csv(FIXTURES / "mp20_train_sample.csv")


@pytest.fixture(scope="session")
def test_arrays():
    return arrays_from_csv(FIXTURES / "mp20_test_sample.csv")


@pytest.fixture(scope="session")
def tiny_task(train_arrays, test_arrays):
    return DiffusionTask(TINY_MODEL, TINY_DIFFUSION, train_arrays, test_arrays)


@pytest.fixture(scope="session")
def tiny_params(tiny_task):
    batch = tiny_task.make_batch("train", list(range(4)), 4)
    return tiny_task.init(jax.random.key(0), batch)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_task, tiny_params):
    path = tmp_path_factory.mktemp("bundle") / "denoiser"
    save_bundle(path, tiny_params, tiny_task.checkpoint_extras(), dtype="float16")
    return path


@pytest.fixture(scope="session")
def tiny_sampler(tiny_bundle):
    return load_sampler(tiny_bundle, TINY_SAMPLER)
