"""Loaders of every source format and the dataset registry's file resolution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genms.data.parse import parse_cif
from genms.data.sources import (
    DATASETS,
    FORMATS,
    DataSourceError,
    locate,
    read_cif_folder,
    read_csv_table,
)


def test_mp20_csv_reads_ids_multiline_cifs_and_targets(fixtures_dir):
    table = read_csv_table(fixtures_dir / "mp20_test_sample.csv", FORMATS["mp_20"])
    assert len(table) == 40
    assert table.ids[0] == "mp-28156"
    assert table.cifs[0].count("\n") > 10  # the quoted multi-line field survives
    assert set(table.targets) == {
        "formation_energy_per_atom",
        "band_gap",
        "e_above_hull",
        "spacegroup_number",
    }
    assert table.targets["spacegroup_number"][:2].tolist() == [2.0, 193.0]
    assert np.isfinite(table.targets["formation_energy_per_atom"]).all()
    assert parse_cif(table.cifs[0])[0] == "ok"


def test_perov5_ids_are_strings_and_heat_ref_is_the_target(fixtures_dir):
    table = read_csv_table(fixtures_dir / "perov5_sample.csv", FORMATS["perov_5"])
    assert len(table) == 20
    assert table.ids.dtype.kind == "U"
    assert FORMATS["perov_5"].required == ("heat_ref",)
    assert np.isfinite(table.targets["heat_ref"]).all()
    ok = [parse_cif(c) for c in table.cifs[:3]]
    assert all(r[0] == "ok" and len(r[2]) == 5 for r in ok)


def test_mp_cgcnn_csv(fixtures_dir):
    table = read_csv_table(fixtures_dir / "mp_cgcnn_sample.csv", FORMATS["mp_cgcnn"])
    assert len(table) == 60
    assert all(i.startswith("mp-") for i in table.ids)
    assert set(table.targets) == {"formation_energy_per_atom", "band_gap"}


def test_wbm_rows_get_generated_ids(tmp_path, fixtures_dir):
    df = pd.read_csv(fixtures_dir / "mp_cgcnn_sample.csv").head(4)
    path = tmp_path / "val.csv"
    df[["cif", "formation_energy_per_atom", "band_gap"]].to_csv(path)  # unnamed index, no ids
    table = read_csv_table(path, FORMATS["wbm"])
    assert table.ids.tolist() == ["wbm-0", "wbm-1", "wbm-2", "wbm-3"]
    np.testing.assert_allclose(
        table.targets["formation_energy_per_atom"], df.formation_energy_per_atom
    )


def test_mpts52_energy_above_hull_maps_to_e_above_hull(tmp_path, fixtures_dir):
    df = pd.read_csv(fixtures_dir / "mp20_test_sample.csv", index_col=0).head(3)
    out = pd.DataFrame(
        {
            "material_id": df.material_id,
            "theoretical": False,
            "energy_above_hull": [0.0, 0.1, 0.2],
            "formation_energy_per_atom": df.formation_energy_per_atom,
            "year": 2010,
            "cif": df.cif,
        }
    )
    out.to_csv(tmp_path / "test.csv")
    table = read_csv_table(tmp_path / "test.csv", FORMATS["mpts_52"])
    assert table.targets["e_above_hull"].tolist() == [0.0, 0.1, 0.2]


def test_cif_folder_ids_are_file_stems(fixtures_dir):
    table = read_cif_folder(fixtures_dir / "data" / "cifs")
    assert table.ids.tolist() == ["broken", "mp-17751", "mp-2296"]
    assert table.targets == {}
    assert [parse_cif(c)[0] for c in table.cifs] == ["cif_parse_error", "ok", "ok"]


def test_clear_errors_for_wrong_or_missing_files(tmp_path, fixtures_dir):
    (tmp_path / "no_cif.csv").write_text("material_id,formation_energy_per_atom\nmp-1,0.5\n")
    with pytest.raises(DataSourceError, match="lacks column"):
        read_csv_table(tmp_path / "no_cif.csv", FORMATS["mp_20"])
    with pytest.raises(DataSourceError, match="does not exist"):
        read_csv_table(tmp_path / "nope.csv", FORMATS["mp_20"])
    with pytest.raises(DataSourceError, match="data.cif_dir"):
        read_cif_folder(tmp_path / "nope")
    with pytest.raises(DataSourceError, match="genms data download mp_20"):
        locate(DATASETS["mp_20"], [tmp_path])


def test_full_mp20_download_is_preferred_over_the_partial_copy(tmp_path, place, fixtures_dir):
    shared, user = tmp_path / "shared", tmp_path / "user"
    for split in ("train", "val", "test"):
        place(fixtures_dir / "mp20_test_sample.csv", shared, f"mp_20_partial/{split}.csv")
    folder, files = locate(DATASETS["mp_20"], [shared, user])
    assert folder == shared / "mp_20_partial" and set(files) == {"train", "val", "test"}
    place(fixtures_dir / "mp20_test_sample.csv", user, "mp_20/test.csv")
    folder, files = locate(DATASETS["mp_20"], [shared, user])
    assert folder == user / "mp_20" and set(files) == {"test"}
