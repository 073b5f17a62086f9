"""Damaged rows are skipped and counted by reason; every good row of the same file is kept.

``fixtures/data/mp20_corrupted_rows.csv`` holds six good MP-20 rows and eleven damaged copies:
overlapping atoms (0.004 Å apart), a 10⁶ Å cell, a sparse 400 Å cell, negative and zero
lattice lengths, a CIF cut at a line of its atom loop (its header still lists every atom) and
one cut mid-line, a CIF under another row's formula, and non-UTF-8 bytes in the source column,
in the CIF text and in the id.
"""

from __future__ import annotations

import numpy as np
import pytest

from genms.cli import main
from genms.crystal.geometry import min_distance
from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.data.build import prepare_dataset
from genms.data.parse import MIN_DISTANCE_ANG, closest_distance, parse_cif
from genms.data.sources import read_cif_folder

GOOD = ["mp-1101", "mp-30339", "mp-1185399", "mp-7928", "mp-4291", "mp-8123"]


@pytest.fixture
def corrupted_root(tmp_path, place, fixtures_dir):
    root = tmp_path / "data"
    place(fixtures_dir / "data" / "mp20_corrupted_rows.csv", root, "mp_20_partial/test.csv")
    return root


def test_every_bad_row_is_skipped_by_reason_and_every_good_row_kept(corrupted_root, make_ctx):
    (result,) = prepare_dataset("mp_20", make_ctx([corrupted_root]))
    report = result.report
    assert report["rows"] == 17 and report["kept"] == 6
    assert report["skipped"] == {
        "absurd_cell": 2,
        "bad_encoding": 3,
        "cif_parse_error": 1,
        "formula_mismatch": 1,
        "nonpositive_cell": 2,
        "overlapping_atoms": 1,
        "truncated_cif": 1,
    }
    examples = report["examples"]
    assert examples["overlapping_atoms"] == ["mp-overlap: two atoms 0.004 Å apart (< 0.5 Å)"]
    assert examples["absurd_cell"][0].startswith("mp-huge-cell: lattice length 1e+06 Å")
    assert examples["absurd_cell"][1].startswith("mp-sparse: volume per atom")
    assert examples["nonpositive_cell"][0].startswith("mp-negative-length: _cell_length_a -")
    assert examples["truncated_cif"][0].startswith("mp-truncated: the atoms read (Ce1Co2) disagree")
    assert examples["formula_mismatch"] == [
        "mp-wrong-formula: the CIF holds TmCuSi, the row says SmTe2"
    ]
    assert "byte 0xff in column 'source'" in examples["bad_encoding"][0]
    assert "byte 0xe9 in column 'cif'" in examples["bad_encoding"][1]
    assert "byte 0xc3 in column 'material_id'" in examples["bad_encoding"][2]
    arrays = CrystalArrays.load(result.path)
    assert arrays.ids.tolist() == GOOD
    assert arrays.targets["formation_energy_per_atom"].round(6).tolist() == [
        -1.498969, -0.332838, -0.448441, -1.133267, -0.683193, -0.641349]


def test_cli_reports_the_reasons(corrupted_root, tmp_path, capsys):
    main(
        [
            "data",
            "prepare",
            "mp_20",
            f"paths.data_dir={corrupted_root}",
            f"paths.cache_dir={tmp_path / 'prep'}",
            f"data.parse_cache_dir={tmp_path / 'parsed'}",
            "data.workers=0",
            "data.progress=false",
            f"hydra.run.dir={tmp_path / 'h'}",
        ]
    )
    out = capsys.readouterr().out
    assert "Traceback" not in out
    flat = "".join(out.split()).replace("│", "")  # the table may wrap the reasons column
    for reason in (
        "bad_encoding=3",
        "overlapping_atoms=1",
        "nonpositive_cell=2",
        "truncated_cif=1",
    ):
        assert reason in flat


def test_a_cif_file_with_bad_bytes_is_one_skipped_row(tmp_path, fixtures_dir):
    folder = tmp_path / "cifs"
    folder.mkdir()
    good = (fixtures_dir / "data" / "cifs" / "mp-2296.cif").read_bytes()
    (folder / "a.cif").write_bytes(good)
    (folder / "b.cif").write_bytes(good.replace(b"# generated", b"# \xff\xfe generated"))
    table = read_cif_folder(folder)
    assert table.cifs[0] and not table.cifs[1]
    assert table.bad_rows == {1: ("bad_encoding", "byte 0xff at offset 2 is not UTF-8")}


def test_closest_distance_finds_periodic_neighbours_in_bounded_memory():
    lattice = np.diag([3.0, 4.0, 5.0])
    frac = np.array([[0.0, 0.0, 0.0], [0.999, 0.0, 0.0]])  # 0.003 Å apart through the boundary
    assert closest_distance(frac, lattice, MIN_DISTANCE_ANG) == pytest.approx(0.003, abs=1e-9)
    one = np.array([[0.2, 0.3, 0.4]])
    # its own image is 3 Å away
    assert closest_distance(one, lattice, MIN_DISTANCE_ANG) >= MIN_DISTANCE_ANG
    many = np.random.default_rng(0).random((300, 3))  # several chunks of rows
    box = np.eye(3) * 40.0
    assert closest_distance(many, box, 40.0) == pytest.approx(
        min_distance(Crystal(many, np.ones(300, np.int64), box)), rel=1e-9)


@pytest.mark.parametrize("edit, reason", [
    (("_cell_length_c   6.68465204", "_cell_length_c   nan"), "nonpositive_cell"),
    (("_cell_length_b   6.68465204", "_cell_length_b   -6.68465204"), "nonpositive_cell"),
    (("_cell_angle_beta   96.14923465", "_cell_angle_beta   180.0"), "nonpositive_cell"),
    (("_cell_length_a   6.68465204", "_cell_length_a   2000.0"), "absurd_cell"),
])
def test_cell_parameters_are_checked_as_written(fixtures_dir, edit, reason):
    text = (fixtures_dir / "data" / "cifs" / "mp-2296.cif").read_text()
    assert parse_cif(text)[0] == "ok"
    assert edit[0] in text
    assert parse_cif(text.replace(*edit, 1))[0] == reason
