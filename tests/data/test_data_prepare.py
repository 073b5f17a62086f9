"""Prepare: skip report by reason, fingerprint caching, the .npz round trip, splits, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from genms.cli import main
from genms.crystal.convert import to_pymatgen
from genms.crystal.structure import Crystal, lattice_from_params, lattice_to_params
from genms.data.arrays import CrystalArrays
from genms.data.build import prepare_dataset
from genms.data.parse import canonical_cell, parse_cif, parse_source
from genms.data.prepare import DataNotPreparedError, load_prepared, prepared_path
from genms.data.sources import FORMATS, read_csv_table
from genms.data.splits import random_split


@pytest.fixture
def mp20_root(tmp_path, place, fixtures_dir):
    """A data root whose mp_20_partial/test.csv holds the bad-rows fixture."""
    root = tmp_path / "data"
    place(fixtures_dir / "data" / "mp20_bad_rows.csv", root, "mp_20_partial/test.csv")
    place(fixtures_dir / "mp20_train_sample.csv", root, "mp_20_partial/train.csv")
    return root


def test_bad_rows_are_skipped_and_counted_by_reason(mp20_root, make_ctx):
    results = {r.split: r for r in prepare_dataset("mp_20", make_ctx([mp20_root]))}
    assert set(results) == {"train", "test"}  # no val file: only the present splits
    report = results["test"].report
    assert report["rows"] == 9 and report["kept"] == 3
    assert report["skipped"] == {
        "cif_parse_error": 1,
        "disordered": 1,
        "duplicate_id": 1,
        "missing_id": 1,
        "missing_target": 1,
        "too_many_atoms": 1,
    }
    assert report["examples"]["too_many_atoms"] == ["mp-too-large: 128 > 20"]
    arrays = CrystalArrays.load(results["test"].path)
    assert arrays.ids.tolist() == ["mp-17751", "mp-2296", "mp-2530"]
    assert arrays.n_atoms.tolist() == [16, 16, 3]
    assert arrays.meta["report"] == report
    assert results["train"].report["kept"] == 40


def test_second_prepare_is_cached_and_a_setting_change_rebuilds(mp20_root, make_ctx):
    first = prepare_dataset("mp_20", make_ctx([mp20_root]))
    path = first[0].path
    mtime = path.stat().st_mtime_ns
    again = prepare_dataset("mp_20", make_ctx([mp20_root]))
    assert [r.status for r in again] == ["cached", "cached"]
    assert path.stat().st_mtime_ns == mtime
    assert again[0].meta["fingerprint"] == first[0].meta["fingerprint"]
    rebuilt = prepare_dataset("mp_20", make_ctx([mp20_root], max_atoms=10))
    assert [r.status for r in rebuilt] == ["built", "built"]
    # 16, 16, 128 and the id-less 16 > 10
    assert rebuilt[1].report["skipped"]["too_many_atoms"] == 4
    forced = prepare_dataset("mp_20", make_ctx([mp20_root], max_atoms=10, force=True))
    assert [r.status for r in forced] == ["built", "built"]


def test_changed_source_bytes_rebuild(mp20_root, make_ctx):
    prepare_dataset("mp_20", make_ctx([mp20_root]))
    src = mp20_root / "mp_20_partial" / "train.csv"
    df = pd.read_csv(src, index_col=0).head(5)
    df.to_csv(src)
    results = {r.split: r for r in prepare_dataset("mp_20", make_ctx([mp20_root]))}
    assert results["train"].status == "built" and results["train"].report["kept"] == 5
    assert results["test"].status == "cached"


def test_npz_round_trip_and_load_prepared(mp20_root, make_ctx, tmp_path):
    ctx = make_ctx([mp20_root])
    prepare_dataset("mp_20", ctx)
    arrays = load_prepared("mp_20", "train", ctx.cache_dir)
    assert (
        prepared_path(ctx.cache_dir, "mp_20", "train")
        == tmp_path / "prepared" / "mp_20" / "train.npz"
    )
    assert arrays.frac_coords.dtype == np.float32 and arrays.atomic_numbers.dtype == np.uint8
    assert ((arrays.frac_coords >= 0) & (arrays.frac_coords < 1)).all()
    assert arrays.n_atoms.sum() == len(arrays.atomic_numbers)
    copy = CrystalArrays.load(arrays.save(tmp_path / "copy.npz"))
    for name in ("frac_coords", "atomic_numbers", "lattice", "n_atoms", "ids"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(arrays, name))
    assert copy.targets.keys() == arrays.targets.keys() and copy.meta == arrays.meta
    # the stored cell is the canonical one: a function of the six lattice parameters
    np.testing.assert_allclose(
        arrays.lattice, lattice_from_params(lattice_to_params(arrays.lattice)), atol=1e-4
    )


def test_load_prepared_names_the_command_when_missing(tmp_path):
    with pytest.raises(DataNotPreparedError, match=r"genms data prepare mp_20 paths.cache_dir="):
        load_prepared("mp_20", "train", tmp_path)
    with pytest.raises(
        DataNotPreparedError, match="has splits val, test|has splits train, val, test"
    ):
        load_prepared("perov_5", "nosuch", tmp_path)


def test_parsed_structure_matches_the_cif_and_left_handed_cells_are_fixed(fixtures_dir):
    cif = pd.read_csv(fixtures_dir / "mp20_test_sample.csv").cif[0]
    status, frac, numbers, lattice = parse_cif(cif)
    assert status == "ok" and np.linalg.det(lattice) > 0
    parsed = to_pymatgen(Crystal(frac, numbers, lattice))
    assert StructureMatcher().fit(Structure.from_str(cif, fmt="cif"), parsed)
    # a left-handed basis describes the same crystal after canonicalisation
    left = Crystal(frac, numbers, lattice[[1, 0, 2]], {})
    left = Crystal(left.frac_coords[:, [1, 0, 2]], numbers, left.lattice)
    assert np.linalg.det(left.lattice) < 0
    fixed = canonical_cell(left)
    assert np.linalg.det(fixed.lattice) > 0
    assert StructureMatcher(primitive_cell=False, scale=False).fit(
        to_pymatgen(left), to_pymatgen(fixed)
    )


def test_random_split_is_seeded_disjoint_and_complete():
    rows = np.arange(100) * 3
    a = random_split(rows, (0.8, 0.1, 0.1), ("train", "val", "test"), np.random.default_rng(0))
    b = random_split(rows, (0.8, 0.1, 0.1), ("train", "val", "test"), np.random.default_rng(0))
    assert {k: len(v) for k, v in a.items()} == {"train": 80, "val": 10, "test": 10}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.array_equal(np.sort(np.concatenate(list(a.values()))), rows)


def test_mp_cgcnn_drops_energy_outliers_before_the_split(tmp_path, fixtures_dir, make_ctx):
    df = pd.read_csv(fixtures_dir / "mp_cgcnn_sample.csv")
    df.loc[[3, 7], "formation_energy_per_atom"] = [-9.0, -13.5]
    (tmp_path / "data" / "mp_cgcnn_36k").mkdir(parents=True)
    df.to_csv(tmp_path / "data" / "mp_cgcnn_36k" / "data.csv", index=False)
    results = {r.split: r for r in prepare_dataset("mp_cgcnn", make_ctx([tmp_path / "data"]))}
    pre = results["train"].meta["before_split"]
    assert pre["skipped"] == {"target_outlier": 2} and pre["kept"] == 58
    assert results["train"].meta["split_sizes"] == {"train": 46, "val": 6, "test": 6}
    ids = [
        set(load_prepared("mp_cgcnn", s, tmp_path / "prepared").ids)
        for s in ("train", "val", "test")
    ]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert sum(map(len, ids)) == 58
    assert df.material_id[3] not in set().union(*ids)


def test_cli_prepares_a_cif_folder_then_reports_cached(tmp_path, fixtures_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["data", "prepare", "cif_dir", f"data.cif_dir={fixtures_dir / 'data' / 'cifs'}",
            f"paths.cache_dir={tmp_path / 'prep'}", f"data.parse_cache_dir={tmp_path / 'parsed'}",
            "data.workers=0", "data.progress=false", f"hydra.run.dir={tmp_path / 'hydra'}"]
    main(args)
    out = capsys.readouterr().out
    assert "cif_dir" in out and "cif_parse_error=1" in out and "built" in out
    arrays = load_prepared("cif_dir", "all", tmp_path / "prep")
    assert arrays.ids.tolist() == ["mp-17751", "mp-2296"]
    main(args)
    assert "cached" in capsys.readouterr().out


def test_cli_errors_are_one_line_messages(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "prepare",
                "cif_dir",
                f"paths.cache_dir={tmp_path}",
                f"hydra.run.dir={tmp_path / 'h'}",
            ]
        )
    assert exc.value.code == 2 and "data.cif_dir=/path/to/cifs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "prepare",
                "nope",
                f"paths.cache_dir={tmp_path}",
                f"hydra.run.dir={tmp_path / 'h'}",
            ]
        )
    assert exc.value.code == 2 and "unknown dataset 'nope'" in capsys.readouterr().err


def test_process_pool_gives_the_same_arrays_as_in_process_parsing(fixtures_dir, tmp_path):
    table = read_csv_table(fixtures_dir / "data" / "mp20_bad_rows.csv", FORMATS["mp_20"])
    settings = {"niggli": True, "canonical_orientation": True}
    serial = parse_source(table, "x", settings, None, workers=0, progress=False)
    pooled = parse_source(table, "x", settings, tmp_path, workers=2, chunksize=2, progress=False)
    assert pooled.failures == serial.failures and len(pooled.failures) == 2
    np.testing.assert_array_equal(pooled.rows, serial.rows)
    np.testing.assert_array_equal(pooled.arrays.frac_coords, serial.arrays.frac_coords)
    np.testing.assert_array_equal(pooled.arrays.lattice, serial.arrays.lattice)
    # from the cache file
    cached = parse_source(table, "x", settings, tmp_path, workers=2, progress=False)
    np.testing.assert_array_equal(cached.arrays.atomic_numbers, serial.arrays.atomic_numbers)
    assert cached.failures == serial.failures
