"""Formula uniqueness against reference reduced formulae."""

from __future__ import annotations

import pandas as pd
import pytest

from genms.crystal.convert import to_cif
from genms.evaluate.uniqueness import ReferenceFormulae, uniqueness
from tests.evaluate.handmade_crystals import perovskite


def test_a2b4_is_a_duplicate_of_ab2():
    refs = ReferenceFormulae(["FeO2", "NaCl"])
    assert "Fe2O4" in refs and not refs.is_unique("Fe2O4")
    assert refs.is_unique("Fe2O3")
    assert not refs.is_unique("Na4Cl4")
    assert uniqueness(["Fe2O4", "Fe2O3", "Na2Cl2", "SrTiO3"], refs) == 0.5


def test_reference_files(tmp_path):
    txt = tmp_path / "known.txt"
    txt.write_text("# known formulae\nSrTiO3\nLi2O  # comment\n\nnot-a-formula\n")
    refs = ReferenceFormulae.from_file(txt)
    assert len(refs) == 2 and refs.n_skipped == 1
    assert not refs.is_unique("Sr2Ti2O6") and refs.is_unique("BaTiO3")

    csv = tmp_path / "known.csv"
    pd.DataFrame({"pretty_formula": ["MgO", "Al2O3"]}).to_csv(csv)
    assert not ReferenceFormulae.from_file(csv).is_unique("Mg2O2")

    cif_csv = tmp_path / "cifs.csv"
    pd.DataFrame({"cif": [to_cif(perovskite())]}).to_csv(cif_csv)
    assert not ReferenceFormulae.from_file(cif_csv).is_unique("Sr2Ti2O6")

    with pytest.raises(FileNotFoundError, match="reference formulae file"):
        ReferenceFormulae.from_file(tmp_path / "missing.txt")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"x": [1]}).to_csv(bad)
    with pytest.raises(ValueError, match="no formula column"):
        ReferenceFormulae.from_file(bad)
