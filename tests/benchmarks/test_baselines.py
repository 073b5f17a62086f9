"""Offline baselines: template substitution and PyXtal random structures give valid crystals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Element

from genms.benchmarks.baselines.prototypes import PrototypeConfig, PrototypeError, family_prototypes
from genms.benchmarks.baselines.random_symmetric import RandomSymmetricSampler
from genms.benchmarks.baselines.template import TemplateSubstitutionSampler, element_mapping
from genms.crystal.composition import parse_formula
from genms.crystal.convert import to_pymatgen
from genms.crystal.geometry import min_distance
from genms.interfaces import StructureSampler


def _formula_of(crystal) -> str:
    return to_pymatgen(crystal).composition.reduced_formula


@pytest.fixture(scope="module")
def perovskite_templates():
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "perov5_sample.csv"
    return family_prototypes(
        "perovskite", PrototypeConfig(files=[str(fixture)], cache=False, max_per_family=6)
    )


def test_prototypes_are_family_members_with_the_anion_on_the_anion_site(perovskite_templates):
    assert perovskite_templates
    for p in perovskite_templates:
        assert p.spacegroup in (221, 99, 62, 167, 140, 127, 74, 63, 160, 38)  # perovskite groups
        assert len(p.crystal.atomic_numbers) == 5
        counts = parse_formula(p.formula).get_el_amt_dict()
        anion = max(counts, key=lambda el: Element(el).X)
        assert counts[anion] == 3
    assert perovskite_templates[0].spacegroup == 221  # the aristotype first


def test_element_mapping_follows_electronegativity_within_equal_amounts():
    # SrTiO3 template, CsPbCl3 target: Cs (most electropositive) on Sr, Pb on Ti, Cl on O.
    mapping = element_mapping({38: 1, 22: 1, 8: 3}, {55: 1, 82: 1, 17: 3})
    assert mapping == {38: 55, 22: 82, 8: 17}
    assert element_mapping({38: 1, 22: 1, 8: 3}, {12: 1, 13: 2, 8: 4}) is None  # AB2X4 is not ABX3


def test_template_sampler_gives_valid_structures_of_the_formula(perovskite_templates):
    sampler = TemplateSubstitutionSampler(perovskite_templates)
    assert isinstance(sampler, StructureSampler)
    out = sampler.sample(["CsPbCl3", "BaZrO3", "MgAl2O4"], 3, key=0)
    assert [len(x) for x in out] == [3, 3, 0]  # no ABX3 template fits a spinel formula
    for formula, crystals in zip(["CsPbCl3", "BaZrO3"], out[:2], strict=False):
        for c in crystals:
            assert _formula_of(c) == formula
            assert min_distance(c) > 0.5
            assert 5 < abs(np.linalg.det(c.lattice)) / len(c.atomic_numbers) < 80  # Å^3 per atom
            assert c.properties["baseline"] == "template"
    again = sampler.sample(["CsPbCl3", "BaZrO3", "MgAl2O4"], 3, key=0)
    assert [c.properties["template"] for c in again[0]] == [
        c.properties["template"] for c in out[0]
    ]


def test_missing_prototype_source_is_a_clear_error(tmp_path):
    with pytest.raises(PrototypeError, match="not found"):
        family_prototypes(
            "spinel", PrototypeConfig(files=[str(tmp_path / "none.csv")], cache=False)
        )


def test_random_symmetric_sampler_with_pyxtal():
    pytest.importorskip("pyxtal")

    sampler = RandomSymmetricSampler.for_family("spinel", max_atoms=28)
    assert sampler.space_groups == [227] or 227 in sampler.space_groups
    out = sampler.sample(["MgAl2O4", "Mg0.5Al2O4"], 2, key=1)
    assert len(out[0]) == 2 and out[1] == []  # fractional amounts have no structure
    for c in out[0]:
        assert _formula_of(c) == "MgAl2O4" and len(c.atomic_numbers) <= 28
        assert min_distance(c) > 0.5 and c.properties["spacegroup"] in sampler.space_groups
    fixed = sampler.sample(["MgAl2O4"], 1, key=2, formula_units=[2])
    assert len(fixed[0][0].atomic_numbers) == 14
