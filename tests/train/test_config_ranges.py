"""Train/optim values are checked before any work: a bad one is a one-line error, exit 2."""

from __future__ import annotations

import math

import pytest

from genms.cli import main
from genms.configs import ConfigError, to_dataclass
from genms.train.checkpoint import Checkpointer
from genms.train.config import OptimConfig, TrainConfig


@pytest.mark.parametrize("cls, key, value", [
    (TrainConfig, "keep", 0), (TrainConfig, "keep", -1), (TrainConfig, "steps", 0),
    (TrainConfig, "batch_size", -4), (TrainConfig, "ema_decay", math.nan),
    (TrainConfig, "ema_decay", 1.5), (TrainConfig, "seed", -1), (TrainConfig, "log_every", -1),
    (TrainConfig, "max_minutes", -1.0), (TrainConfig, "max_minutes", math.inf),
    (OptimConfig, "lr", math.nan), (OptimConfig, "lr", -1e-3), (OptimConfig, "lr", 0.0),
    (OptimConfig, "b2", 1.0), (OptimConfig, "eps", math.nan), (OptimConfig, "weight_decay", -0.1),
    (OptimConfig, "warmup_steps", -5), (OptimConfig, "final_lr_fraction", 2.0),
    (OptimConfig, "grad_clip", -1.0), (OptimConfig, "grad_clip", math.nan),
])
def test_out_of_range_values_are_rejected(cls, key, value):
    prefix = "train" if cls is TrainConfig else "optim"
    with pytest.raises(ConfigError, match=rf"{prefix}\.{key}=.* out of range"):
        to_dataclass(cls, {key: value})


def test_defaults_and_the_disabled_settings_are_accepted():
    TrainConfig()
    OptimConfig()
    TrainConfig(log_every=0, eval_every=0, ckpt_every=0, ema_decay=None, max_minutes=0.0)
    OptimConfig(grad_clip=0.0)


def test_checkpointer_refuses_keep_zero(tmp_path):
    with pytest.raises(ValueError, match="train.keep=0"):
        Checkpointer(tmp_path / "run", keep=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, fragment", [
    ("train.keep=0", "train.keep=0 is out of range"),
    ("optim.lr=nan", "optim.lr=nan is out of range"),
    ("optim.lr=-0.001", "optim.lr=-0.001 is out of range"),
    ("train.keep=many", "(key train.keep)"),
])
def test_train_command_rejects_bad_values_before_any_work(tmp_path, capsys, override, fragment):
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "diffusion", "debug=diffusion_tiny", override, f"train.run_dir={run_dir}",
              f"export.path={tmp_path / 'bundle'}", f"hydra.run.dir={tmp_path / 'hydra'}"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and fragment in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not run_dir.exists() and not (tmp_path / "bundle").exists()
