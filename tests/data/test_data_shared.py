"""Smoke tests on the real files in ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genms.data.build import prepare_dataset
from genms.data.download import UPSTREAM, git_blob_sha
from genms.data.prepare import load_prepared
from genms.data.sources import DATASETS, FORMATS, locate, read_csv_table
from genms.paths import shared_data_dir

SHARED = shared_data_dir()
pytestmark = [pytest.mark.shared_data,
              pytest.mark.skipif(SHARED is None, reason="../shared/data is absent")]


def test_shared_files_have_the_upstream_git_blob_shas():
    present = [f for f in UPSTREAM if (SHARED / f.relpath).is_file()]
    assert {f.relpath for f in present} >= {
        "perov_5/val.csv",
        "perov_5/test.csv",
        "carbon_24/val.csv",
        "carbon_24/test.csv",
        "mpts_52/val.csv",
        "mpts_52/test.csv",
    }
    for f in present:
        assert git_blob_sha(SHARED / f.relpath) == f.blob_sha, f.relpath


def test_every_registered_source_is_found():
    for name in ("mp_20", "perov_5", "carbon_24", "mpts_52", "mp_cgcnn", "wbm"):
        folder, files = locate(DATASETS[name], [SHARED])
        assert files, name
    assert locate(DATASETS["mp_20"], [SHARED])[0].name == "mp_20_partial"


def test_real_rows_prepare(tmp_path, make_ctx):
    """The first 25 rows of the real MP-20 test and WBM files, through the registry."""
    root = tmp_path / "data"
    for folder, name in (("mp_20_partial", "test.csv"), ("wbm_subset_10k", "val.csv")):
        (root / folder).mkdir(parents=True)
        pd.read_csv(SHARED / folder / name, index_col=0, nrows=25).to_csv(root / folder / name)
    ctx = make_ctx([root])
    (mp20,) = prepare_dataset("mp_20", ctx)
    assert mp20.report["kept"] == 25 and mp20.report["skipped"] == {}
    arrays = load_prepared("mp_20", "test", ctx.cache_dir)
    assert (arrays.n_atoms <= 20).all() and np.isfinite(arrays.targets["spacegroup_number"]).all()
    (wbm,) = prepare_dataset("wbm", ctx)
    assert wbm.report["kept"] == 25
    assert load_prepared("wbm", "test", ctx.cache_dir).ids[:2].tolist() == ["wbm-0", "wbm-1"]


def test_mp_cgcnn_has_the_documented_outliers():
    table = read_csv_table(SHARED / "mp_cgcnn_36k" / "data.csv", FORMATS["mp_cgcnn"])
    assert len(table) == 36_737
    low = table.ids[table.targets["formation_energy_per_atom"] < -5]
    assert sorted(low) == ["mp-690564", "mp-693892", "mp-775201", "mp-778012"]
