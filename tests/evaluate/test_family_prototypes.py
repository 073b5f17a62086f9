"""Clean family prototypes: real members match, look-alikes of the same formula type do not."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from genms.benchmarks.families import family_references
from genms.crystal.convert import from_cif
from genms.evaluate.family import family_match, family_match_many
from genms.evaluate.family_prototypes import (
    SHIPPED_PATH,
    coordination_ok,
    ideal_prototypes,
    prototype_references,
)
from tests.evaluate.handmade_crystals import perovskite

FIXTURE = Path(__file__).parents[1] / "fixtures" / "family_members.csv"


@pytest.fixture(scope="module")
def members() -> dict[str, object]:
    df = pd.read_csv(FIXTURE)
    return {f"{f} {sg}": from_cif(c) for f, sg, c in zip(df.formula, df.spacegroup, df.cif,
                                                          strict=True)}


@pytest.fixture(scope="module")
def perovskites():
    return prototype_references("perovskite")


def test_every_ideal_prototype_meets_its_own_coordination_rule():
    for p in ideal_prototypes():
        assert coordination_ok(p.structure, p.coordination or p.family), p.name


@pytest.mark.parametrize("name", ["LaScO3 62", "LaAlO3 167"])
def test_tilted_perovskites_match(members, perovskites, name):
    assert family_match(members[name], perovskites).matched


def test_cubic_srtio3_matches(perovskites):
    r = family_match(perovskite(a=3.905, A="Sr", B="Ti", X="O"), perovskites)
    assert r.matched and r.reference.startswith("ideal:cubic")


@pytest.mark.parametrize("name", ["KNO3 62", "NaNO3 167", "CaCO3 167"])
def test_nitrates_and_carbonates_are_not_perovskites(members, perovskites, name):
    r = family_match(members[name], perovskites)
    assert not r.matched, r


def test_pyrochlore_and_spinel_members(members):
    pyro, spinel = prototype_references("pyrochlore"), prototype_references("spinel")
    assert family_match(members["Gd2Ti2O7 227"], pyro).matched
    assert family_match(members["Y2Ti2O7 227"], pyro).matched
    assert family_match(members["MgAl2O4 227"], spinel).matched
    assert not family_match(members["MgAl2O4 227"], pyro).matched
    assert not family_match(members["LaScO3 62"], spinel).matched


def test_the_check_survives_worker_processes(members, perovskites):
    xs = [members["KNO3 62"], members["LaScO3 62"]]
    par = family_match_many(xs, perovskites, n_workers=2, progress=False)
    assert [m.matched for m in par] == [False, True]


def test_shipped_list_names_every_entry_and_no_nitrate():
    with gzip.open(SHIPPED_PATH, "rt") as fh:
        data = json.load(fh)
    perov = data["families"]["perovskite"]["entries"]
    assert len(perov) > 100 and all(":" in e["id"] for e in perov)
    formulas = {e["formula"] for e in perov}
    assert not formulas & {"KNO3", "NaNO3", "CaCO3", "YBO3", "KClO3"}
    assert {e["spacegroup"] for e in perov} >= {221, 62, 167}
    for fam in ("pyrochlore", "spinel"):
        assert data["families"][fam]["entries"]


def test_benchmark_references_come_from_the_prototypes():
    refs = family_references("perovskite")
    assert refs.origin.startswith("prototypes") and refs.n_selected > 100
    assert {221, 62, 167} <= set(refs.space_groups)
    with pytest.raises(ValueError, match="prototypes or datasets"):
        family_references("perovskite", source="icsd")
