"""A resumed run records each step once; a bundle is replaced in one swap, never half-written."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest

from genms.tracking.writers import JsonlWriter
from genms.train import bundle as bundle_mod
from genms.train.bundle import load_bundle, save_bundle
from genms.train.checkpoint import latest_checkpoint_step
from genms.train.config import OptimConfig, TrainConfig
from genms.train.loop import train
from tests.train.toy_task import ToyTask


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metrics_are_cut_back_to_the_checkpoint_on_resume(tmp_path):
    run = tmp_path / "run"
    cfg = dict(
        steps=30,
        batch_size=16,
        ema_decay=0.9,
        log_every=5,
        eval_every=10,
        ckpt_every=10,
        run_dir=str(run),
    )
    train(ToyTask(), TrainConfig(**cfg), OptimConfig(lr=0.1))
    # A crash before the step-30 checkpoint was saved: the metrics of steps 21-30 are on disk.
    shutil.rmtree(run / "checkpoints" / "30")
    assert latest_checkpoint_step(run) == 20
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 29, "train/loss": 1.0')  # and a torn last line
    res = train(ToyTask(), TrainConfig(**cfg, resume=True), OptimConfig(lr=0.1))
    assert res.step == 30
    rows = _rows(run / "metrics.jsonl")
    train_steps = [r["step"] for r in rows if "train/loss" in r]
    assert train_steps == [5, 10, 15, 20, 25, 30]
    eval_steps = [r["step"] for r in rows if any(k.startswith("val/") for k in r)]
    assert Counter(eval_steps) == Counter({10: 1, 20: 1, 30: 1})


def test_jsonl_writer_keeps_rows_up_to_the_step(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        "".join(json.dumps({"step": s, "a": s}) + "\n" for s in (1, 2, 3, 4)) + "not json\n"
    )
    w = JsonlWriter(path, keep_until=2)
    w.write(3, {"a": 30})
    w.close()
    assert [(r["step"], r["a"]) for r in _rows(path)] == [(1, 1), (2, 2), (3, 30)]
    JsonlWriter(path).close()  # without keep_until: appends, drops nothing
    assert len(_rows(path)) == 3


def _params(value: float, n: int = 10) -> dict:
    return {"w": np.full((n,), value, np.float32)}


@pytest.mark.parametrize("exchange", [True, False])
def test_save_bundle_replaces_the_folder_in_one_swap(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(bundle_mod, "_exchange", lambda a, b: False)
    path = tmp_path / "bundle"
    save_bundle(path, _params(1.0, 300_000), {"v": 1}, max_part_mb=0.5)  # split into parts
    assert len(list(path.glob("params.msgpack.part*"))) == 3
    (path / "NOTES.md").write_text("kept")
    save_bundle(path, _params(2.0), {"v": 2})
    params, extras = load_bundle(path)
    assert extras["v"] == 2 and np.all(params["w"] == 2.0) and params["w"].shape == (10,)
    assert sorted(p.name for p in path.iterdir()) == ["NOTES.md", "bundle.json", "params.msgpack"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no temporary folder left


def test_a_failed_save_leaves_the_old_bundle_whole(tmp_path):
    path = tmp_path / "bundle"
    save_bundle(path, _params(1.0), {"v": 1})
    with pytest.raises(TypeError):
        save_bundle(path, _params(2.0), {"v": object()})  # bundle.json cannot be written
    params, extras = load_bundle(path)
    assert extras["v"] == 1 and np.all(params["w"] == 1.0)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
