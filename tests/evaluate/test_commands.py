"""``genms eval metrics`` end to end on a folder of CIF files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from genms.cli import main
from genms.crystal.convert import to_cif
from genms.evaluate.commands import collect_cif_files, evaluate_files
from tests.evaluate.handmade_crystals import FIXTURES, perovskite


def _write_cifs(folder, n=6):
    folder.mkdir()
    df = pd.read_csv(FIXTURES / "mp20_test_sample.csv").head(n)
    for mid, cif in zip(df["material_id"], df["cif"], strict=True):
        (folder / f"{mid}.cif").write_text(cif)
    (folder / "sub").mkdir()
    (folder / "sub" / "SrTiO3.CIF").write_text(to_cif(perovskite()))
    (folder / "corrupt.cif").write_text("data_x\nloop_\n_atom_site_label\ngarbage\n")
    (folder / "notes.txt").write_text("ignored")
    return df


def test_evaluate_files(tmp_path):
    df = _write_cifs(tmp_path / "cifs")
    files = collect_cif_files([str(tmp_path / "cifs")])
    assert len(files) == 8  # 6 + the upper-case .CIF in a subfolder + the corrupt one
    refs = tmp_path / "refs.txt"
    refs.write_text("Sr2Ti2O6\n" + df["pretty_formula"].iloc[0] + "\n")
    report = evaluate_files(files, n_workers=1, reference_formulae=str(refs), progress=False)
    s = report["summary"]
    assert s["n_files"] == 8 and s["n_cif_valid"] == 7 and s["cif_valid"] == pytest.approx(7 / 8)
    assert s["n_struct_valid"] == 7
    # SrTiO3 and the first fixture formula are known; corrupt is not unique
    assert s["n_unique"] == 5
    corrupt = next(r for r in report["files"] if r["path"].endswith("corrupt.cif"))
    assert corrupt["cif_valid"] is False and "could not parse" in corrupt["cif_error"]


def test_cli_writes_json_and_rejects_bad_input(tmp_path, capsys):
    _write_cifs(tmp_path / "cifs")
    out = tmp_path / "report.json"
    main(
        [
            "eval",
            "metrics",
            str(tmp_path / "cifs"),
            f"output={out}",
            "n_workers=1",
            "progress=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    report = json.loads(out.read_text())
    assert report["summary"]["n_files"] == 8 and len(report["files"]) == 8
    assert "CIF validity" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="neither a file nor a folder"):
        main(["eval", "metrics", str(tmp_path / "nope"), f"hydra.run.dir={tmp_path / 'run2'}"])


def test_a_reference_file_without_formulae_is_refused(tmp_path):
    """`genms propose ... output=formulae.json` then `reference_formulae=formulae.json`: no line
    of a JSON file is a formula, which gave 'unique vs 0 reference formulae: 1.0000'."""
    _write_cifs(tmp_path / "cifs")
    refs = tmp_path / "formulae.json"
    refs.write_text(json.dumps({"request": "a perovskite", "results": [{"formula": "SrTiO3"}]},
                               indent=1))
    with pytest.raises(SystemExit, match="holds no chemical formula"):
        main(["eval", "metrics", str(tmp_path / "cifs"), f"reference_formulae={refs}",
              "n_workers=1", "progress=false", f"hydra.run.dir={tmp_path / 'run'}"])
