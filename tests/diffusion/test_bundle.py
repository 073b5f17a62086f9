"""DiffusionBundle: the shipped bundles load typed, a task's bundle round-trips through disk."""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

from genms.diffusion.bundle import (
    DiffusionBundle,
    read_training,
    record_training,
    samples_seen,
)
from genms.diffusion.config import DiffusionConfig
from genms.models.denoiser import DenoiserConfig
from genms.models.denoiser_v2 import PeriodicDenoiserConfig
from genms.paths import MODELS_DIR
from genms.train.bundle import load_bundle, save_bundle

SHIPPED = [MODELS_DIR / "denoiser", MODELS_DIR / "denoiser_v1"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_bundles_load_typed(path):
    if not (path / "bundle.json").is_file():
        pytest.skip(f"no shipped bundle at {path}")
    bundle = DiffusionBundle.load(path)
    meta = json.loads((path / "bundle.json").read_text())
    want = PeriodicDenoiserConfig if meta["model"].get("arch") == "periodic" else DenoiserConfig
    assert isinstance(bundle.model, want) and isinstance(bundle.diffusion, DiffusionConfig)
    assert bundle.diffusion.process == ("flow" if want is PeriodicDenoiserConfig else "ddpm")
    assert bundle.path == path and bundle.training == meta["training"]
    assert bundle.stored["dtype"] == meta["bundle"]["dtype"]
    assert bundle.provenance["step"] == meta["provenance"]["step"]
    # the typed configs hold what the file says; keys newer than the bundle take their default
    as_json = lambda obj: json.loads(json.dumps(dataclasses.asdict(obj)))  # noqa: E731
    assert as_json(bundle.diffusion) == {**as_json(DiffusionConfig()), **meta["diffusion"]}
    assert as_json(bundle.model) == {**as_json(want()), **meta["model"]}
    assert bundle.samples_seen > 0
    leaves = [np.asarray(x) for x in jax.tree.leaves(bundle.params)]
    assert sum(x.size for x in leaves) == meta["bundle"]["n_params"]
    assert all(x.dtype == np.float32 for x in leaves)


def test_task_bundle_round_trips_through_a_folder(tiny_task, tiny_params, tmp_path):
    in_memory = tiny_task.bundle(tiny_params)
    assert in_memory.extras() == tiny_task.checkpoint_extras()
    save_bundle(tmp_path / "b", tiny_params, tiny_task.checkpoint_extras())
    loaded = DiffusionBundle.load(tmp_path / "b")
    assert loaded.model == in_memory.model and loaded.diffusion == in_memory.diffusion
    assert loaded.normaliser == in_memory.normaliser
    assert loaded.z_prior.to_dict() == in_memory.z_prior.to_dict()
    assert loaded.extras() == tiny_task.checkpoint_extras()
    assert loaded.training == {} and loaded.stored["dtype"] == "float32"


def test_training_record_is_merged_and_read_without_the_parameters(tiny_task, tiny_params,
                                                                  tmp_path):
    path = tmp_path / "b"
    save_bundle(path, tiny_params, tiny_task.checkpoint_extras())
    assert read_training(path) == {} and read_training(tmp_path / "none") == {}
    record_training(path, {"steps": 10, "batch_size": 4})
    record_training(path, {"samples_seen": 123})
    assert read_training(path) == {"steps": 10, "batch_size": 4, "samples_seen": 123}
    assert DiffusionBundle.load(path).samples_seen == 123
    params, meta = load_bundle(path)
    assert meta["kind"] == "genms.diffusion" and set(params) == set(tiny_params)


def test_samples_seen_falls_back_to_steps_times_batch():
    assert samples_seen({}) == 0
    assert samples_seen({"steps": 10, "batch_size": 8}) == 80
    assert samples_seen({"steps": 10, "batch_size": 8, "samples_seen": 5}) == 5


def test_another_kind_of_bundle_is_refused(tiny_params):
    with pytest.raises(ValueError, match="not a genms diffusion model"):
        DiffusionBundle.from_meta(tiny_params, {"kind": "energy_gnn"})
