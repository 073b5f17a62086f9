"""Structures as users hold them — pymatgen Structure, ASE Atoms, CIF and POSCAR files — wherever a
structure is accepted: the energy predictor, the validity metrics, ``genms eval metrics`` and
``genms score``."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from genms.cli import main
from genms.crystal.convert import StructureReadError, read_structure, to_ase, to_crystal
from genms.data.arrays import CrystalArrays
from genms.energy.predictor import DEFAULT_BUNDLE, load_predictor
from genms.energy.score import print_table
from genms.evaluate.validity import check_validity
from genms.progress import TextProgress, listening

SHIPPED = pytest.mark.skipif(
    not (DEFAULT_BUNDLE / "bundle.json").is_file(), reason="no shipped energy bundle"
)


@pytest.fixture(scope="module")
def srtio3():
    return Structure(
        Lattice.cubic(3.905),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


@pytest.fixture
def files(srtio3, tmp_path):
    """The same SrTiO3 cell as a CIF, a POSCAR (as VASP writes it) and a .vasp file."""
    folder = tmp_path / "mine"
    folder.mkdir()
    srtio3.to(filename=str(folder / "SrTiO3.cif"))
    srtio3.to(filename=str(folder / "POSCAR"), fmt="poscar")
    srtio3.to(filename=str(folder / "srtio3.vasp"), fmt="poscar")
    return folder


def test_to_crystal_takes_every_form(srtio3, files):
    ref = to_crystal(srtio3)
    forms = [
        srtio3,
        to_ase(ref),
        srtio3.as_dict(),
        str(files / "POSCAR"),
        files / "SrTiO3.cif",
        files / "srtio3.vasp",
        {
            "lattice": ref.lattice.tolist(),
            "frac_coords": ref.frac_coords.tolist(),
            "atomic_numbers": ref.atomic_numbers.tolist(),
        },
    ]
    for form in forms:
        c = to_crystal(form)
        assert sorted(c.atomic_numbers.tolist()) == sorted(ref.atomic_numbers.tolist())
        assert np.isclose(abs(np.linalg.det(c.lattice)), srtio3.volume)
    with pytest.raises(StructureReadError, match="not a structure file"):
        read_structure(files.parent / "x.txt") if (files.parent / "x.txt").write_text(
            "hello"
        ) else None
    with pytest.raises(StructureReadError, match="cannot read a structure from a int"):
        to_crystal(3)


def test_validity_of_structure_atoms_and_files(srtio3, files):
    for form in (srtio3, to_ase(to_crystal(srtio3)), files / "POSCAR", srtio3.as_dict()):
        assert check_validity(form).valid, form


def test_eval_metrics_reports_a_srtio3_poscar_valid(files, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    main(
        [
            "eval",
            "metrics",
            str(files / "POSCAR"),
            f"output={out}",
            "n_workers=1",
            "progress=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    summary = json.loads(out.read_text())["summary"]
    assert summary["n_files"] == 1 and summary["n_valid"] == 1 and summary["n_cif_valid"] == 1
    assert "1/1" in capsys.readouterr().out
    main(
        [
            "eval",
            "metrics",
            str(files),
            f"output={out}",
            "n_workers=1",
            "progress=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )  # a folder: the CIF, the POSCAR and the .vasp file
    report = json.loads(out.read_text())
    assert report["summary"]["n_files"] == 3 and report["summary"]["n_valid"] == 3


@SHIPPED
def test_predictor_accepts_structures_atoms_and_paths(srtio3, files):
    predictor = load_predictor()
    ref = predictor.predict([to_crystal(srtio3)]).e_form
    assert -5.0 < ref[0] < -2.0  # SrTiO3 is strongly bound (MP: about -3.5 eV/atom)
    for batch in (
        [srtio3],
        srtio3,
        [to_ase(to_crystal(srtio3))],
        to_ase(to_crystal(srtio3)),
        [files / "POSCAR", str(files / "SrTiO3.cif")],
        [srtio3.as_dict()],
    ):
        out = predictor.predict(batch)
        np.testing.assert_allclose(out.e_form, np.full(len(out.e_form), ref[0]), atol=1e-5)


@SHIPPED
def test_genms_score_gives_the_energy_of_user_files(files, tmp_path, capsys, monkeypatch):
    (files / "notes.txt").write_text("not a structure")
    out = tmp_path / "scores.csv"
    monkeypatch.chdir(tmp_path)
    records = main(
        [
            "score",
            str(files / "SrTiO3.cif"),
            str(files / "POSCAR"),
            str(files / "notes.txt"),
            f"output={out}",
        ]
    )
    assert records == 0
    printed = capsys.readouterr().out
    assert "Formation energy E_f in eV/atom" in printed and "SrTiO3" in printed
    table = pd.read_csv(out)
    assert len(table) == 3 and table["e_form_ev_per_atom"].notna().sum() == 2
    assert "not a structure file" in table["error"].dropna().iloc[0]
    scored = table.dropna(subset=["e_form_ev_per_atom"])
    expected = load_predictor().predict([files / "POSCAR"]).e_form[0]
    np.testing.assert_allclose(scored["e_form_ev_per_atom"], expected, atol=1e-5)
    assert scored["in_range"].all() and scored["struct_valid"].all() and scored["comp_valid"].all()
    assert not (tmp_path / "outputs").exists()  # no Hydra folder for a quick score
    with pytest.raises(SystemExit, match="no structure could be scored"):
        main(["score", str(files / "notes.txt")])
    capsys.readouterr()
    for bad, says in ((tmp_path / "missing.cif", "neither a file nor a folder"),
                      (tmp_path / "empty", "no structure files")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(SystemExit) as exc:  # bad input: exit 2 and one line, as elsewhere
            main(["score", str(bad)])
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and len(err) == 1 and says in err[0]


def test_score_table_keeps_a_long_file_name_on_one_line_when_piped(capsys):
    """Piped output (a log, `| less`) used rich's 80-column default, which folded every path
    into three or four rows; tables of the commands use the shared 140-column console."""
    name = "runs/generate/2026-12-03_15-53-04/cifs/01_BaNaCl3.cif"
    record = {"file": name, "formula": "BaNaCl3", "n_atoms": 20, "struct_valid": True,
              "comp_valid": True, "e_form_ev_per_atom": -2.575, "e_form_std": 0.023,
              "in_range": True}
    print_table([record], "shipped energy GNN")
    out = capsys.readouterr().out
    assert any(name in line for line in out.splitlines())


@SHIPPED
def test_a_second_prediction_pass_restarts_the_energy_progress(srtio3):
    """`genms eval energy` predicts the same set several times (accuracy, then the speed
    passes): each pass starts afresh (0/n), so its elapsed time and ETA do not carry on from the
    previous pass."""
    arrays = CrystalArrays.from_crystals([to_crystal(srtio3)] * 3, ["a", "b", "c"])
    predictor = load_predictor(DEFAULT_BUNDLE)
    out = io.StringIO()
    with listening(TextProgress(stream=out)):
        predictor.predict_arrays(arrays)
        predictor.predict_arrays(arrays)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("energy:")]
    starts = [line.split(",")[0] for line in lines]
    assert starts == ["energy: 0/3 (0 %)", "energy: 3/3 (100 %)"] * 2
