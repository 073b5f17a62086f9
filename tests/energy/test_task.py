"""The energy task with the shared loop: normalisers, masking, and a tiny overfit run."""

from __future__ import annotations

import numpy as np

from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.energy.ensemble import ONE_SIGMA, coverage, fit_std_scale
from genms.energy.normalise import composition_fractions, fit_normalisers
from genms.energy.task import EnergyTask, EnergyTaskConfig
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.loop import train

from .conftest import TARGET, small_model_config


def test_normalisers_fit_a_linear_reference():
    rng = np.random.default_rng(0)
    ref = np.zeros(119)
    ref[[3, 8, 26]] = [-1.0, -2.0, 0.5]
    n_atoms = rng.integers(2, 6, size=200)
    numbers = rng.choice([3, 8, 26], size=int(n_atoms.sum()))
    y = composition_fractions(numbers, n_atoms) @ ref + rng.normal(scale=0.01, size=200)
    norm = fit_normalisers(numbers, n_atoms, y)
    np.testing.assert_allclose(norm.element_ref[[3, 8, 26]], ref[[3, 8, 26]], atol=0.02)
    assert 0.005 < norm.scale < 0.02
    assert norm.seen_elements == (3, 8, 26)
    assert norm.target_min == y.min() and norm.target_max == y.max()


def test_padded_graphs_do_not_count(random_task):
    task, params = random_task
    full = task.make_batch("train", [0, 1, 2, 3], 4)
    part = task.make_batch("train", [0, 1], 4)
    lf, _ = task.loss(params, full, None, False)
    ev = task.eval_metrics(params, part, None)
    assert float(ev["count"]) == 2.0
    pred = np.asarray(task.predict(params, part)).mean(0)
    expected = np.abs(pred[:2] - task.splits["train"].targets[TARGET][:2]).sum()
    np.testing.assert_allclose(float(ev["mae_ev_per_atom"]), expected, rtol=1e-4, atol=1e-6)
    assert np.isfinite(float(lf))


def _strained_set(cgcnn_crystals) -> CrystalArrays:
    """Two compositions x four strains; the target depends on the strain, so the per-element
    reference cannot fit it and the network has to use the distances."""
    crystals = []
    for c in (cgcnn_crystals[2], cgcnn_crystals[46]):
        for s in (0.94, 0.98, 1.02, 1.06):
            y = c.properties[TARGET] + 1.5 * (s - 1.0)
            crystals.append(Crystal(c.frac_coords, c.atomic_numbers, c.lattice * s, {TARGET: y}))
    return CrystalArrays.from_crystals(crystals, [f"s{i}" for i in range(len(crystals))], [TARGET])


def test_overfit_with_shared_loop(cgcnn_crystals, tmp_path):
    arr = _strained_set(cgcnn_crystals)
    cfg = EnergyTaskConfig(model=small_model_config(), ensemble_size=1)
    task = EnergyTask(cfg, {"train": arr, "val": arr}, TARGET, batch_size=8)
    # the per-element reference alone (a zero network) cannot see the strain
    x = composition_fractions(arr.atomic_numbers, arr.n_atoms)
    ref_only = float(np.abs(x @ task.normalisers.element_ref - arr.targets[TARGET]).mean())
    steps = 80
    tcfg = TrainConfig(steps=steps, batch_size=8, ema_decay=None, log_every=steps, eval_every=steps,
                       ckpt_every=steps, run_dir=str(tmp_path / "run"), devices=1)
    ocfg = OptimConfig(lr=5e-3, b2=0.999, schedule="cosine", warmup_steps=5)
    result = train(task, tcfg, ocfg, LoggerConfig(jsonl=False))
    mae = result.last_metrics["val/mae_ev_per_atom"]
    assert ref_only > 0.03
    assert mae < 0.2 * ref_only, (ref_only, mae)
    extras = task.checkpoint_extras()
    assert extras["normalisers"]["scale"] == task.normalisers.scale
    assert extras["model"]["avg_neighbors"] > 1.0


def test_spread_scale_gives_one_sigma_coverage():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.01, 0.05, size=4000)
    err = rng.normal(size=4000) * raw * 3.0  # members agree 3x too closely
    c = fit_std_scale(err, raw)
    assert 2.5 < c < 3.5
    assert abs(coverage(err, c * raw)["within_1std"] - ONE_SIGMA) < 0.01
