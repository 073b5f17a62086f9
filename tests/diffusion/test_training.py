"""The diffusion task in the shared loop: a tiny overfit, exact resume, 4 devices = 1 device."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

from genms.diffusion.task import DiffusionTask
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.loop import train

from .conftest import TINY_DIFFUSION, TINY_MODEL

REPO = Path(__file__).resolve().parents[2]


def _mean_eval_loss(task, params, n_keys=8):
    batch = task.make_batch("val", list(range(task.num_examples("val"))), 4)
    fn = jax.jit(task.eval_metrics)
    out = [fn(params, batch, jax.random.key(100 + i)) for i in range(n_keys)]
    return float(np.mean([o["loss"] / o["count"] for o in out]))


def test_tiny_overfit_four_crystals(train_arrays, tmp_path):
    four = train_arrays.subset([0, 1, 2, 3])
    task = DiffusionTask(TINY_MODEL, TINY_DIFFUSION, four, four)
    before = _mean_eval_loss(
        task, task.init(jax.random.key(0), task.make_batch("train", [0, 1, 2, 3], 4))
    )
    result = train(
        task,
        TrainConfig(
            steps=300,
            batch_size=4,
            ema_decay=None,
            log_every=100,
            eval_every=1000,
            ckpt_every=1000,
            run_dir=str(tmp_path / "run"),
        ),
        OptimConfig(lr=3e-3, warmup_steps=20, schedule="cosine", grad_clip=1.0),
        LoggerConfig(jsonl=True),
    )
    after = _mean_eval_loss(task, result.params)
    assert after < 0.4 * before, (before, after)


def _run(task, tmp, steps, resume=False):
    return train(
        task,
        TrainConfig(
            steps=steps,
            batch_size=8,
            ema_decay=0.9,
            log_every=2,
            eval_every=100,
            ckpt_every=3,
            keep=3,
            run_dir=str(tmp),
            resume=resume,
        ),
        OptimConfig(lr=1e-3),
        LoggerConfig(jsonl=True),
    )


def test_resume_is_exact(train_arrays, tmp_path):
    # no val: no eval
    task = DiffusionTask(TINY_MODEL, TINY_DIFFUSION, train_arrays.subset(list(range(16))))
    straight = _run(task, tmp_path / "a", 6)  # checkpoints at steps 3 and 6
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    # as if the first chunk had stopped at step 3
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "6")
    resumed = _run(task, tmp_path / "b", 6, resume=True)
    assert resumed.step == straight.step == 6
    for x, y in zip(jax.tree.leaves(straight.params), jax.tree.leaves(resumed.params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    for x, y in zip(
        jax.tree.leaves(straight.ema_params), jax.tree.leaves(resumed.ema_params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


_MULTI_DEVICE = r"""
import json, sys
import jax, numpy as np
from tests.diffusion.conftest import TINY_DIFFUSION, TINY_MODEL
from genms.diffusion.data import arrays_from_csv
from genms.diffusion.task import DiffusionTask
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.loop import train
assert jax.device_count() == 4, jax.devices()
arrays = arrays_from_csv("tests/fixtures/mp20_train_sample.csv", limit=16)
task = DiffusionTask(TINY_MODEL, TINY_DIFFUSION, arrays)
out = {}
for d in (1, 4):
    cfg = TrainConfig(steps=1, batch_size=8, ema_decay=None, log_every=1, eval_every=1,
                      ckpt_every=1, run_dir=sys.argv[1] + f"/d{d}", devices=d)
    r = train(task, cfg, OptimConfig(lr=1e-3), LoggerConfig())
    out[d] = {"params": [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(r.params)],
              "loss": r.last_metrics["train/loss"]}
print("RESULT" + json.dumps(out))
"""


def test_one_step_on_four_devices_equals_one_device(tmp_path):
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run([sys.executable, "-c", _MULTI_DEVICE, str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    out = json.loads(line[len("RESULT"):])
    one, four = out["1"], out["4"]
    assert abs(one["loss"] - four["loss"]) < 1e-5 * max(1.0, abs(one["loss"]))
    for a, b in zip(one["params"], four["params"], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
