"""The classes of request understanding, end to end: what the parser reads, the offline proposer
and R_hi act on (sites, preferences, oxidation states, anion families, properties, unicode)."""

from __future__ import annotations

import pytest

from genms.cli import main
from genms.crystal.composition import formula_elements
from genms.language.elements import class_members
from genms.language.offline import OfflineConfig, OfflineProposer
from genms.language.properties import magnetic_ions
from genms.language.request import parse_request
from genms.language.rhi import score_formulae
from genms.language.sitefit import best_site_fit, likely_ions


@pytest.fixture
def proposer(reference):
    return OfflineProposer(OfflineConfig(), reference)


def _propose(proposer, text, n=10, seed=0):
    request = parse_request(text)
    return request, [c.formula for c in proposer.propose(request, n, seed)]


def test_site_words_are_never_elements_and_fill_their_site(proposer, reference):
    request, got = _propose(
        proposer, "a fluoride perovskite with potassium and a transition metal on the B site"
    )
    assert "B" not in request.required_elements
    assert got
    tm = class_members("transition metal")
    for f in got:
        assert "B" not in formula_elements(f) and {"K", "F"} <= formula_elements(f)
        fit = best_site_fit(f, "perovskite")
        assert fit.ions[fit.labels.index("B")].element in tm, f
    scored = {s.formula: s for s in score_formulae(request, ["KMnF3", "KMgF3"], reference)}
    assert scored["KMnF3"].passed and not scored["KMgF3"].passed


def test_preferences_rank_and_do_not_filter(proposer, reference):
    request, got = _propose(proposer, "a new spinel without oxygen, preferably a sulfide")
    assert "S" not in request.excluded_elements and request.preferred_elements == ("S",)
    assert all("O" not in formula_elements(f) for f in got)
    assert sum("S" in formula_elements(f) for f in got[:5]) >= 4  # sulfides first
    # a selenide still passes R_hi, below an equally likely sulfide
    scored = {s.formula: s for s in score_formulae(request, ["ZnCr2S4", "ZnCr2Se4"], reference)}
    assert scored["ZnCr2Se4"].passed and scored["ZnCr2S4"].total > scored["ZnCr2Se4"].total
    assert scored["ZnCr2Se4"].check("preference").score == 0.0


def test_oxidation_words_constrain_the_charge(proposer, reference):
    request, got = _propose(proposer, "an elpasolite with sodium and a trivalent metal")
    assert got
    metals = class_members("metal")
    for f in got:
        fit = best_site_fit(f, "double perovskite")
        assert "Na" in formula_elements(f)
        assert any(i.charge == 3 and i.element in metals for i in fit.ions), f
    scored = {s.formula: s for s in score_formulae(request, ["Cs2NaBiCl6", "Na2CaZrF6"], reference)}
    assert scored["Cs2NaBiCl6"].passed and not scored["Na2CaZrF6"].passed
    assert "oxidation state +3" in scored["Na2CaZrF6"].check("elements").reason


def test_anion_family_words_map_to_their_elements(proposer):
    request, got = _propose(proposer, "a lithium thiophosphate solid electrolyte", n=6)
    assert (
        set(request.required_elements) == {"Li", "P", "S"} and "O" not in request.required_elements
    )
    assert got and all({"Li", "P", "S"} <= formula_elements(f) for f in got)


def test_property_words_become_objectives_or_say_they_cannot(proposer, reference):
    request, got = _propose(
        proposer, "a magnetic oxide perovskite with band gap > 2 eV for solar cells"
    )
    text = str(request)
    assert "magnetic — ranks formulae (R_hi" in text
    assert (
        "band gap > 2 eV — cannot do this offline" in text
        and "for solar cells — cannot do this offline" in text
    )
    assert not request.ignored_words
    assert sum(bool(magnetic_ions(likely_ions(f, "perovskite"))) for f in got) >= len(got) - 2
    scored = {s.formula: s for s in score_formulae(request, ["LaMnO3", "SrTiO3"], reference)}
    assert (
        scored["LaMnO3"].check("property").score == 1.0
        and scored["SrTiO3"].check("property").score == 0.0
    )
    assert scored["LaMnO3"].total > scored["SrTiO3"].total


def test_unicode_formulae_and_charges():
    assert parse_request("SrTiO₃").similar_to == ("SrTiO3",)
    assert parse_request("a spinel with Fe³⁺").oxidation[0].charge == 3
    assert parse_request("ＳｒＴｉＯ３").similar_to == ("SrTiO3",)  # full-width


def test_propose_command_reads_unicode_and_prints_what_it_cannot_do(tmp_path, capsys):
    main(
        [
            "propose",
            "SrTiO₃",
            "n=3",
            "proposer.reference.source=shipped",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    out = capsys.readouterr().out
    assert "similar to: SrTiO3" in out and "SrTiO\n" not in out
    main(
        [
            "propose",
            "a magnetic spinel for solar cells",
            "n=3",
            "proposer.reference.source=shipped",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    out = capsys.readouterr().out
    assert "for solar cells — cannot do this offline" in out and "property" in out
