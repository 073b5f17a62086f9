"""Novelty is checked against every formula of the data folder and worded for what it is."""

from __future__ import annotations

import pytest

from genms.data.known import ALL_DATASETS, from_sources, load_shipped
from genms.data.reference import ReferenceConfig, load_reference
from genms.language.request import parse_request
from genms.language.rhi import score_formulae
from genms.search.answer import novelty_note


@pytest.fixture(scope="module")
def shipped_reference():
    return load_reference(ReferenceConfig(source="shipped"))


def test_default_reference_is_every_dataset(shipped_reference):
    assert tuple(ReferenceConfig().datasets) == ALL_DATASETS
    assert set(shipped_reference.datasets) == set(ALL_DATASETS)
    assert len(shipped_reference) > 58_000
    claim = shipped_reference.novelty_claim()
    assert claim.startswith(f"not in the {len(shipped_reference):,} reference formulae from MP-20")
    for name in ("MPTS-52", "WBM", "Perov-5", "Carbon-24"):
        assert name in claim
    # templates and family examples stay Materials Project compounds
    assert set(shipped_reference.examples.datasets()) == {"mp_20", "mp_cgcnn", "mpts_52"}


def test_wbm_formula_is_known_and_a_new_one_is_worded(shipped_reference):
    assert "CsBaCl3" in shipped_reference and shipped_reference.known_claim("CsBaCl3") == "in WBM"
    request = parse_request("a novel chloride perovskite")
    scored = {
        s.formula: s
        for s in score_formulae(request, ["CsBaCl3", "CsSrCl3", "RbPbCl3"], shipped_reference)
    }
    unique = scored["CsBaCl3"].check("uniqueness")
    assert not unique.passed and unique.hard and unique.reason == "known: in WBM"
    novel = [s.check("uniqueness") for s in scored.values() if s.check("uniqueness").passed]
    for check in novel:
        assert check.reason == f"novel: {shipped_reference.novelty_claim()}"


def test_shipped_table_holds_every_formula_of_the_data_folder():
    """The committed table (scripts/build_known_formulae.py) is up to date with the data folder."""
    table = from_sources(ALL_DATASETS, "auto")
    if not table.datasets():
        pytest.skip("no data folder on this machine")
    shipped = load_shipped()
    for name in table.datasets():
        missing = table.formulae([name]) - shipped.formulae([name])
        assert not missing, (
            f"{name}: {len(missing)} formulae missing from the shipped table, e.g. "
            f"{sorted(missing)[:5]}; "
            f"rerun python scripts/build_known_formulae.py"
        )


def test_novelty_note_names_where_the_formulae_came_from(shipped_reference):
    """A fresh install without a data folder reads the shipped table; the note must not claim
    the formulae came from the data folder."""
    note = novelty_note(shipped_reference)
    assert "(the table shipped in the package)" in note and "data folder" not in note
