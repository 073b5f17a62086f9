"""One formula reader for the whole package: the writing by tokens, the chemistry by pymatgen."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genms.crystal.composition import (
    FormulaError,
    canonical_formula,
    formula_amounts,
    formula_elements,
    formula_ratio,
    normalise_ratio,
    parse_formula,
    read_formula,
)


@pytest.mark.parametrize("text, amounts", [
    ("SrTiO3", {"Sr": 1, "Ti": 1, "O": 3}),
    ("Ca(OH)2", {"Ca": 1, "O": 2, "H": 2}),
    ("K3(Fe(CN)6)", {"K": 3, "Fe": 1, "C": 6, "N": 6}),
    ("Sr.5Ti0.5O3", {"Sr": 0.5, "Ti": 0.5, "O": 3}),
    ("Xx2", {"Xx": 2}),  # the writing only: pymatgen rejects the symbol
])
def test_read_formula_reads_the_writing(text, amounts):
    assert read_formula(text) == pytest.approx(amounts)


@pytest.mark.parametrize(
    "text", ["", "2SrTiO3", "Sr(TiO3", "SrTiO3)", "Sr()O", "(2Sr)O", "Sr5.", "Sr Ti", "sr"]
)
def test_read_formula_rejects_what_is_not_a_formula(text):
    assert read_formula(text) is None


def test_parse_formula_checks_the_chemistry_through_pymatgen():
    assert parse_formula("K3(Fe(CN)6)").reduced_formula == "K3Fe(CN)6"
    assert parse_formula(" Sr Ti O3 ").reduced_formula == "SrTiO3"
    for bad in ("Xx2", "Sr(TiO3", "banana"):
        with pytest.raises(FormulaError):
            parse_formula(bad)


def test_ratios_elements_and_canonical_forms():
    assert formula_amounts("Mg(AlO2)2") == (("Mg", 1.0), ("Al", 2.0), ("O", 4.0))
    assert formula_ratio("Mg2Al4O8") == formula_ratio("MgAl2O4") == (1, 2, 4)
    assert formula_elements("MgAl2O4") == frozenset({"Mg", "Al", "O"})
    assert canonical_formula("Al4Mg2O8") == "MgAl2O4" and canonical_formula("banana") is None
    assert normalise_ratio([2, 4, 8]) == (1, 2, 4) and normalise_ratio([0.5, 1]) == (0.5, 1.0)
    with pytest.raises(FormulaError):
        formula_ratio("Sr52Q(3")


def test_reduced_formula_of_a_noble_gas_compound_does_not_warn():
    """`genms eval end-to-end` reads the uniqueness reference (which holds ArF2, HeNa2 ...):
    pymatgen's 'No Pauling electronegativity for Ar' warnings went to the terminal."""
    code = (
        "import warnings; warnings.simplefilter('error');"
        "from genms.crystal.composition import reduced_formula;"
        "print(reduced_formula('F2Ar'), reduced_formula('Na2He'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.split()) == 2
