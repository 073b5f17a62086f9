"""Data parallelism: a training run on 4 (forced host) devices equals the run on 1 device."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys, jax, numpy as np
    from genms.train.config import OptimConfig, TrainConfig
    from genms.train.loop import train
    from tests.train.toy_task import ToyTask
    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    for n in (1, 4):
        cfg = TrainConfig(steps=5, batch_size=16, ema_decay=0.9, log_every=5, eval_every=5,
                          ckpt_every=5, run_dir=sys.argv[1] + f"/d{n}", devices=n)
        out[n] = train(ToyTask(), cfg, OptimConfig(lr=0.1))
    for a, b in zip(jax.tree.leaves(out[1].params), jax.tree.leaves(out[4].params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("EQUAL", out[1].last_metrics["val/mse"], out[4].last_metrics["val/mse"])
    """
)


def test_four_devices_equal_one(tmp_path):
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "EQUAL" in proc.stdout
