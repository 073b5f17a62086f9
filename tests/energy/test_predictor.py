"""Bundles and the EnergyPredictor: save/load, the trust guard, the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from genms.crystal.structure import Crystal
from genms.energy.predictor import DEFAULT_BUNDLE, BundleError, GNNEnergyPredictor, load_predictor
from genms.interfaces import EnergyPredictor
from genms.progress import listening
from genms.train.bundle import save_bundle
from tests.energy.conftest import BASE_ROWS

from .conftest import TARGET


def test_bundle_round_trip_and_float16(random_task, tmp_path):
    task, params = random_task
    crystals = [task.splits["train"].crystal(i) for i in range(4)]
    ref = GNNEnergyPredictor(params, task.checkpoint_extras()).predict(crystals)
    for dtype, tol in (("float32", 1e-6), ("float16", 5e-3)):
        save_bundle(tmp_path / dtype, params, task.checkpoint_extras(), dtype=dtype)
        pred = load_predictor(tmp_path / dtype)
        assert isinstance(pred, EnergyPredictor)
        out = pred.predict(crystals)
        np.testing.assert_allclose(out.e_form, ref.e_form, atol=tol)
        assert out.std is not None and out.std.shape == (4,) and (out.std >= 0).all()


def test_in_range_guard(random_task):
    task, params = random_task
    pred = GNNEnergyPredictor(params, task.checkpoint_extras())
    base = task.splits["train"].crystal(0)
    # uranium: not in training
    unseen = Crystal(base.frac_coords, np.full(base.n_atoms, 92), base.lattice)
    out = pred.predict([base, unseen])
    assert bool(out.extra["unseen_elements"][1]) and not bool(out.extra["unseen_elements"][0])
    assert not out.in_range[1]
    nm = pred.normalisers
    assert out.in_range[0] == (nm.target_min <= out.e_form[0] <= nm.target_max)


def test_bad_input_and_missing_bundle(random_task, tmp_path):
    task, params = random_task
    pred = GNNEnergyPredictor(params, task.checkpoint_extras())
    flat = Crystal(np.zeros((1, 3)), [8], np.diag([3.0, 3.0, 0.0]))
    with pytest.raises(ValueError, match="singular"):
        pred.predict([flat])
    assert pred.predict([]).e_form.shape == (0,)
    with pytest.raises(BundleError, match="genms train energy"):
        load_predictor(tmp_path / "nowhere")


@pytest.mark.skipif(not (DEFAULT_BUNDLE / "bundle.json").is_file(), reason="no shipped energy "
                                                                           "bundle")
def test_shipped_bundle_predicts_fixture(cgcnn_crystals):
    pred = load_predictor()
    crystals = [cgcnn_crystals[i] for i in BASE_ROWS]
    out = pred.predict(crystals)
    y = np.array([c.properties[TARGET] for c in crystals])
    assert np.isfinite(out.e_form).all() and out.in_range.all()
    assert np.abs(out.e_form - y).mean() < 0.15  # a trained model, not random weights
    assert pred.extras["normalisers"]["scale"] > 0


def test_predictor_reports_compiling_and_progress(random_task):
    task, params = random_task
    pred = GNNEnergyPredictor(params, task.checkpoint_extras())
    crystals = [task.splits["train"].crystal(i) for i in range(4)]
    events = []
    with listening(lambda *e: events.append(e)):
        pred.predict(crystals)
    assert [e[0] for e in events if e[0] == "compile"] and events[0][0] == "compile"
    assert [e for e in events if e[0] == "compile"][-1][1:3] == (1, 1)
    energy = [e for e in events if e[0] == "energy"]
    assert energy[-1][1:3] == (4, 4)
    events.clear()
    with listening(lambda *e: events.append(e)):
        pred.predict(crystals)  # same shapes: compiled already
    assert not [e for e in events if e[0] == "compile"]
