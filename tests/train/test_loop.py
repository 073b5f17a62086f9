"""The shared training loop: convergence, exact resume, NaN guard, chunking, bundles."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from genms.train.bundle import load_bundle, save_bundle
from genms.train.checkpoint import Checkpointer
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.export import export_from_run
from genms.train.loop import BatchOrder, TrainingDiverged, train
from genms.train.periodic import should_run
from tests.train.toy_task import ToyTask

OPT = OptimConfig(lr=0.2, schedule="cosine", warmup_steps=2)


def cfg(tmp_path, name, **kw) -> TrainConfig:
    base = dict(steps=40, batch_size=16, ema_decay=0.9, log_every=10, eval_every=20, ckpt_every=10,
                run_dir=str(tmp_path / name))
    base.update(kw)
    return TrainConfig(**base)


def test_should_run_counts_last_step_and_disables_zero():
    assert [s for s in range(1, 11) if should_run(s, 4, 10)] == [4, 8, 10]
    assert [s for s in range(1, 6) if should_run(s, 0, 5)] == [5]


def test_batch_order_is_a_function_of_seed_and_step():
    a, b = BatchOrder(10, 4, seed=3), BatchOrder(10, 4, seed=3)
    assert [a.indices(s) for s in range(5)] == [b.indices(s) for s in (0, 1, 2, 3, 4)]
    assert sorted(a.indices(0) + a.indices(1)) != list(range(8)) or True
    assert len(set(a.indices(0)) | set(a.indices(1))) == 8  # no repeats within an epoch


def test_loop_fits_and_logs(tmp_path):
    task = ToyTask()
    res = train(task, cfg(tmp_path, "fit"), OPT, LoggerConfig(), {"note": "toy"})
    assert res.completed and res.step == 40
    rows = [json.loads(line) for line in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "train/loss" in r]
    assert train_rows[-1]["train/loss"] < 0.1 * train_rows[0]["train/loss"]
    assert any("val/mse" in r for r in rows)
    assert json.loads((res.run_dir / "config.json").read_text())["note"] == "toy"


def test_resume_is_exact(tmp_path):
    full = train(ToyTask(), cfg(tmp_path, "full", steps=30), OPT)
    part = train(ToyTask(), cfg(tmp_path, "part", steps=30, max_minutes=0.0), OPT)
    assert not part.completed and part.step < 30
    resumed = train(ToyTask(), cfg(tmp_path, "part", steps=30, resume=True), OPT)
    assert resumed.step == 30
    for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(resumed.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(jax.tree.leaves(full.ema_params), jax.tree.leaves(resumed.ema_params),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_existing_run_dir_needs_resume_flag(tmp_path):
    train(ToyTask(), cfg(tmp_path, "r", steps=10), OPT)
    with pytest.raises(FileExistsError, match="train.resume=true"):
        train(ToyTask(), cfg(tmp_path, "r", steps=10), OPT)


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    task = ToyTask(nan_after=0.3)
    with pytest.raises(TrainingDiverged, match="NaN/inf at step") as info:
        train(
            task, cfg(tmp_path, "nan", steps=200, ckpt_every=1, log_every=1), OptimConfig(lr=0.05)
        )
    assert "last good checkpoint" in str(info.value)
    ck = Checkpointer(tmp_path / "nan")
    step = ck.latest_step()
    state, meta, _ = ck.restore_raw()
    ck.close()
    assert step is not None and step >= 1
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state["params"]))
    assert meta["extras"]["model"]["dim"] == 4


def test_bundle_round_trip_and_export(tmp_path):
    res = train(ToyTask(), cfg(tmp_path, "b", steps=10), OPT)
    out = export_from_run(res.run_dir, tmp_path / "bundle", dtype="float16")
    params, extras = load_bundle(out)
    np.testing.assert_allclose(params["w"], res.ema_params["w"], rtol=2e-3, atol=2e-3)
    assert extras["normalizers"]["y_mean"] == pytest.approx(float(ToyTask().y.mean()))
    assert extras["provenance"]["step"] == 10
    big = {"w": np.arange(300_000, dtype=np.float32)}
    save_bundle(tmp_path / "split", big, {}, max_part_mb=0.5)
    assert len(list((tmp_path / "split").glob("params.msgpack.part*"))) >= 2
    np.testing.assert_array_equal(load_bundle(tmp_path / "split")[0]["w"], big["w"])
    with pytest.raises(FileNotFoundError, match="not a model bundle"):
        load_bundle(tmp_path)
