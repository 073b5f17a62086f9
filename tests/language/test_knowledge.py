"""The family knowledge base, ionic sizes, substitution probabilities and site fits."""

from __future__ import annotations

import pytest
from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

from genms.crystal.composition import normalise_ratio
from genms.language.families import FAMILIES, UnknownFamilyError, families_with_ratio, get_family
from genms.language.sitefit import best_site_fit, oxidation_likelihood
from genms.language.size import shannon_radius
from genms.language.species import Ion, IonError, get_model, parse_ion


def test_at_least_the_issue_families():
    required = {
        "perovskite",
        "double perovskite",
        "pyrochlore",
        "spinel",
        "rocksalt",
        "fluorite",
        "rutile",
        "zincblende",
        "wurtzite",
        "garnet",
        "olivine",
        "half-heusler",
        "heusler",
        "layered chalcogenide",
    }
    assert required <= set(FAMILIES)
    assert get_family("pyrochlore").ratio == (2, 2, 7)
    assert get_family("spinel").ratio == (1, 2, 4)
    assert get_family("Elpasolites").name == "double perovskite"
    with pytest.raises(UnknownFamilyError, match="known families"):
        get_family("quasicrystal")


def test_every_example_fits_its_family():
    """Each KB example fills its family's sites with charge-neutral ions and passes the size
    rules."""
    for fam in FAMILIES.values():
        assert fam.space_groups and fam.description
        for example in fam.examples:
            fit = best_site_fit(example, fam)
            assert fit is not None, (fam.name, example)
            assert fit.size_ok, fit.describe()


def test_site_fit_prefers_typical_ions():
    good = best_site_fit("SrTiO3", "perovskite")
    bad = best_site_fit("BaAgCl3", "perovskite")  # Ba2+ on the octahedral site
    assert good.score > bad.score
    assert best_site_fit("SrTiO3", "spinel") is None  # wrong ratio
    # the larger ion goes on A
    assert best_site_fit("AgBaCl3", "perovskite").ions[0] == Ion("Ba", 2)


def test_ratio_normalisation():
    assert normalise_ratio((2, 4)) == (1, 2)
    assert normalise_ratio((3, 1, 1)) == (1, 1, 3)
    assert {f.name for f in families_with_ratio((1, 1, 2))} >= {"chalcopyrite", "delafossite"}


def test_substitution_model_matches_pymatgen():
    ref = SubstitutionProbability()
    model = get_model()
    for a, b in [("Sr2+", "Ba2+"), ("Ti4+", "Zr4+"), ("Cl1-", "Br1-"), ("O2-", "O2-")]:
        assert model.cond_prob(parse_ion(a), parse_ion(b)) == pytest.approx(
            ref.cond_prob(a, b), rel=1e-9
        )
    # an ion outside the table is scored through a same-group proxy, below the table ion
    assert (
        0
        < model.cond_prob(Ion("Te", -2), Ion("Se", -2))
        < model.cond_prob(Ion("Se", -2), Ion("Se", -2))
    )


def test_ion_parsing():
    assert parse_ion("Cl-") == Ion("Cl", -1) and str(Ion("Cl", -1)) == "Cl-"
    assert parse_ion("Fe3+").key == "Fe3+" and parse_ion("Co") == Ion("Co", 0)
    with pytest.raises(IonError):
        parse_ion("Fe3")


def test_shannon_radius_and_oxidation_likelihood():
    assert shannon_radius(Ion("Sr", 2), "XII") == pytest.approx(1.44)
    assert shannon_radius(Ion("Fe", 2), "VI") < 0.9  # spin-resolved entry found
    score, why = oxidation_likelihood("Fe2O3")
    assert score == pytest.approx(1.0) and "Fe3+" in why
    assert oxidation_likelihood("Fe3O4")[0] == 0.0  # mixed valence: no single-state assignment
    assert oxidation_likelihood("CoPt3")[0] == 1.0
