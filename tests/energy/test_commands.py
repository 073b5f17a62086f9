"""``genms train energy`` -> bundle -> ``genms eval energy`` -> JSON, on fixture arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genms.cli import main

from .conftest import BASE_ROWS

TINY = [
    "task.model.hidden=8",
    "task.model.steps=1",
    "task.model.n_rbf=8",
    "task.model.max_neighbors=8",
    "task.ensemble_size=2",
    "train.steps=3",
    "train.batch_size=4",
    "train.log_every=1",
    "train.eval_every=3",
    "train.ckpt_every=3",
]


@pytest.mark.slow
def test_train_then_eval_cli(cgcnn_arrays, tmp_path):
    prep = tmp_path / "prepared"
    arr = cgcnn_arrays.subset(BASE_ROWS)
    for ds, split in (
        ("mp_cgcnn", "train"),
        ("mp_cgcnn", "val"),
        ("mp_cgcnn", "test"),
        ("mp_20", "test"),
    ):
        arr.save(prep / ds / f"{split}.npz")
    bundle = tmp_path / "bundle"
    main(["train", "energy", f"paths.cache_dir={prep}", f"train.run_dir={tmp_path / 'run'}",
          f"export.path={bundle}", "export.dtype=float32", *TINY])
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["kind"] == "energy_gnn" and meta["ensemble_size"] == 2
    assert "std_scale" not in meta  # 4 val crystals are too few to calibrate the spread
    out = tmp_path / "energy.json"
    main(
        [
            "eval",
            "energy",
            f"paths.cache_dir={prep}",
            f"eval.checkpoint={bundle}",
            f"eval.output={out}",
            "eval.speed_min_structures=8",
            "eval.speed_repeats=1",
        ]
    )
    res = json.loads(out.read_text())
    for key in (
        "mae_ev_per_atom",
        "rmse_ev_per_atom",
        "n_test",
        "structures_per_second",
        "mae_mp20_subset",
        "mae_wbm",
        "hardware",
        "command",
        "checkpoint",
    ):
        assert key in res, key
    assert res["n_test"] == 4 and np.isfinite(res["mae_ev_per_atom"])
    assert res["mae_wbm"] is None  # not prepared here: reported as missing, not as an error
