"""Steps sized to a time budget: timing, the step count and a config copy."""

from __future__ import annotations

from omegaconf import OmegaConf

from genms.train.budget import MIN_STEPS, steps_in_budget, time_train_step, with_steps
from genms.train.config import OptimConfig
from tests.train.toy_task import ToyTask


def test_steps_fill_the_budget_and_never_fall_below_the_minimum():
    assert steps_in_budget(10, 0.5) == 1200
    assert steps_in_budget(10, 0.5, fraction=0.9) == 1080
    assert steps_in_budget(0.001, 10.0) == MIN_STEPS


def test_with_steps_returns_a_copy_and_leaves_the_given_config_alone():
    train = {"steps": 1000, "eval_every": 500, "ckpt_every": 50, "run_dir": "${task_name}"}
    cfg = OmegaConf.create({"task_name": "t", "train": train})
    OmegaConf.set_struct(cfg, True)
    out = with_steps(cfg, 100)
    assert (out.train.steps, out.train.eval_every, out.train.ckpt_every) == (100, 100, 50)
    assert out.train.run_dir == "t"
    assert (cfg.train.steps, cfg.train.eval_every, cfg.train.ckpt_every) == (1000, 500, 50)


def test_time_train_step_measures_a_positive_time():
    seconds = time_train_step(ToyTask(), 16, OptimConfig(lr=1e-2), n=3)
    assert 0.0 < seconds < 5.0
