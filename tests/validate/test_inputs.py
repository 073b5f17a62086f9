"""Inputs: CIF files, folders, generate run folders, end_to_end.json, MP known compounds."""

from __future__ import annotations

import json

import pytest
from ase.build import bulk
from ase.io import write

from genms.validate.inputs import (
    InputError,
    collect_tasks,
    end_to_end_runs,
    family_runs,
    known_compound_tasks,
    run_folder_tasks,
)

from .helpers import write_run_folder


def test_cif_files_and_folders(tmp_path):
    write(tmp_path / "b.cif", bulk("Cu"))
    write(tmp_path / "a.cif", bulk("NaCl", "rocksalt", a=5.6))
    one = collect_tasks([str(tmp_path / "a.cif")])
    assert [t.id for t in one] == ["a"] and one[0].formula == "NaCl" and one[0].crystal.n_atoms == 2
    folder = collect_tasks([str(tmp_path)])
    assert [t.id for t in folder] == ["a", "b"]
    assert [t.id for t in collect_tasks([str(tmp_path)], top=1)] == ["a"]


def test_run_folder_gives_kept_candidates_in_rank_order_with_gnn_energy(tmp_path):
    run = write_run_folder(
        tmp_path / "run",
        [
            ("Cu", None, "invalid_structure", 0.0),
            ("Au", 2, "kept", -0.2),
            ("Cu3Au", 1, "kept", -0.5),
            ("Au", 3, "kept", -0.1),
        ],
    )
    tasks = collect_tasks([str(run)])
    assert [t.id for t in tasks] == ["01_Cu3Au", "02_Au", "03_Au"]
    assert tasks[0].metadata["e_form_gnn"] == -0.5 and tasks[0].metadata["rank"] == 1
    assert tasks[0].formula == "Cu3Au"
    best = run_folder_tasks(run, top=2, family="spinel", best_per_formula=True)
    assert [t.id for t in best] == ["spinel-01_Cu3Au", "spinel-02_Au"] and best[
        0
    ].family == "spinel"


def test_family_runs_and_end_to_end_json(tmp_path):
    root = tmp_path / "e2e"
    write_run_folder(root / "perovskite", [("Cu3Au", 1, "kept", -0.5)])
    write_run_folder(root / "spinel", [("Au", 1, "kept", -0.1)])
    assert sorted(family_runs([str(root)])) == ["perovskite", "spinel"]
    assert list(family_runs([str(root / "spinel")])) == ["spinel"]
    report = tmp_path / "end_to_end.json"
    report.write_text(
        json.dumps(
            {"perovskite": {"n_structures": 1}, "spinel": {}, "meta": {"run_dir": str(root)}}
        )
    )
    assert sorted(end_to_end_runs(report)) == ["perovskite", "spinel"]
    assert len(collect_tasks([str(report)])) == 2
    # a sweep point keeps its family folders beside its end_to_end.json
    beside = root / "end_to_end.json"
    beside.write_text(json.dumps({"perovskite": {}, "spinel": {}, "meta": {}}))
    assert end_to_end_runs(beside) == {"perovskite": root / "perovskite", "spinel": root / "spinel"}
    # the benchmark records each family's folder
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"spinel": {"run_dir": str(root / "spinel")}, "meta": {}}))
    assert end_to_end_runs(elsewhere) == {"spinel": root / "spinel"}
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"perovskite": {"n_structures": 1}, "meta": {}}))
    with pytest.raises(InputError, match="run_dir"):
        end_to_end_runs(bare)


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing.cif", "no such file"),
    (lambda p: (p / "x.txt").write_text("hello") and p / "x.txt", "not a CIF or POSCAR"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .cif files"),
    (lambda p: (p / "bad.cif").write_text("data_x\n_cell_length_a oops\n") and p / "bad.cif",
     "bad.cif"),
])
def test_bad_inputs_have_clear_errors(tmp_path, make, match):
    with pytest.raises(InputError, match=match):
        collect_tasks([str(make(tmp_path))])


def test_no_inputs_explains_usage():
    with pytest.raises(InputError, match="genms validate"):
        collect_tasks([])


def test_missing_runs_point_to_the_benchmark_command(tmp_path):
    with pytest.raises(InputError, match="eval end-to-end run_dir"):
        family_runs([str(tmp_path / "nope")])


def test_known_compounds_from_mp20_csv(tmp_path, fixtures_dir):
    folder = tmp_path / "mp_20_partial"
    folder.mkdir()
    (folder / "test.csv").write_text((fixtures_dir / "mp20_test_sample.csv").read_text())
    tasks = known_compound_tasks(["mp-2530", "mp-28156"], tmp_path)
    assert [t.id for t in tasks] == ["mp-2530", "mp-28156"]
    assert tasks[0].formula == "Li2Te" and tasks[0].metadata["e_form_mp"] == pytest.approx(
        -1.178, abs=1e-3
    )
    with pytest.raises(InputError, match="mp-0"):
        known_compound_tasks(["mp-0"], tmp_path)


@pytest.mark.shared_data
def test_known_compounds_of_the_benchmark_are_in_the_shared_data(shared_data_dir):
    tasks = known_compound_tasks(["mp-22862", "mp-4651", "mp-3536"], shared_data_dir)
    assert [t.formula for t in tasks] == ["NaCl", "SrTiO3", "MgAl2O4"]
    assert [t.crystal.n_atoms for t in tasks] == [2, 10, 14]
    assert tasks[1].metadata["e_form_mp"] == pytest.approx(-3.55, abs=0.01)
