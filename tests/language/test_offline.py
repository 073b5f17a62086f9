"""The offline proposer honours the request, is charge neutral, novel, diverse and seeded."""

from __future__ import annotations

import pytest

from genms.crystal.composition import (
    canonical_formula,
    formula_elements,
    formula_ratio,
    smact_valid,
)
from genms.interfaces import FormulaProposer
from genms.language.elements import class_members
from genms.language.offline import OfflineConfig, OfflineProposer
from genms.language.proposer import ProposerConfig, build_proposer
from genms.language.request import parse_request


@pytest.fixture
def proposer(reference):
    return OfflineProposer(OfflineConfig(), reference)


def _formulae(proposer, text, n=12, seed=0):
    return [c.formula for c in proposer.propose(parse_request(text), n, seed)]


def test_is_a_formula_proposer(reference):
    p = build_proposer(ProposerConfig(), reference)
    assert isinstance(p, FormulaProposer) and p.name == "offline"
    assert build_proposer({"offline": {"pool_size": 8}}, reference).cfg.pool_size == 8


def test_chloride_perovskites_honour_the_request(proposer, reference):
    got = _formulae(proposer, "a novel chloride perovskite")
    assert len(got) == 12 and len({canonical_formula(f) for f in got}) == 12
    for f in got:
        assert "Cl" in formula_elements(f)
        assert formula_ratio(f) == (1, 1, 3)
        assert smact_valid(f)
        assert f not in reference  # novel: CsPbCl3 and KCaCl3 are in the reference
    candidates = proposer.propose(parse_request("a novel chloride perovskite"), 3, 0)
    assert all(
        0 < c.score <= 1 and c.source == "offline" and len(c.reasons) >= 3 for c in candidates
    )
    assert "tolerance factor" in " ".join(candidates[0].reasons)


def test_required_excluded_any_of_and_classes(proposer):
    for f in _formulae(proposer, "a novel spinel with Zn and no cobalt or iron", 10):
        els = formula_elements(f)
        assert "Zn" in els and not els & {"Co", "Fe"} and formula_ratio(f) == (1, 2, 4)
    for f in _formulae(proposer, "a novel perovskite containing Mg or Zn", 10):
        assert formula_elements(f) & {"Mg", "Zn"}
    rare = class_members("rare earth")
    for f in _formulae(proposer, "a novel rare-earth pyrochlore", 10):
        assert formula_elements(f) & rare and formula_ratio(f) == (2, 2, 7)
    for f in _formulae(proposer, "a novel transition metal oxide without rare earths", 10):
        els = formula_elements(f)
        assert "O" in els and els & class_members("transition metal") and not els & rare


def test_metal_only_and_ratio_without_family(proposer):
    metals = class_members("metal")
    got = _formulae(proposer, "a novel intermetallic", 8)
    assert got and all(formula_elements(f) <= metals for f in got)
    got = _formulae(proposer, "a novel chalcogenide with atom ratio 1:1:2", 8)
    assert got
    for f in got:
        assert formula_ratio(f) == (1, 1, 2) and formula_elements(f) & {"S", "Se", "Te"}


def test_user_list_is_avoided(proposer):
    first = _formulae(proposer, "a perovskite", 5)
    listed = ", ".join(first)
    again = _formulae(proposer, f"a perovskite not in this list: {listed}", 5)
    assert not {canonical_formula(f) for f in again} & {canonical_formula(f) for f in first}


def test_without_novelty_known_formulae_may_appear(reference):
    p = OfflineProposer(OfflineConfig(temperature=0.0), reference)
    got = {canonical_formula(f) for f in _formulae(p, "a perovskite oxide with Sr and Ti", 3)}
    assert "SrTiO3" in got  # the typical ions score highest when novelty is not asked for


def test_seeded_and_deterministic(proposer):
    a = _formulae(proposer, "a novel spinel", 10, seed=1)
    assert a == _formulae(proposer, "a novel spinel", 10, seed=1)
    assert a != _formulae(proposer, "a novel spinel", 10, seed=2)


def test_diversity_spreads_cation_choices(proposer):
    got = _formulae(proposer, "a novel oxide perovskite", 12)
    a_sites = {f[:2] for f in got}
    assert len(a_sites) >= 5


def test_capacity_enumeration(proposer):
    request = parse_request("a novel pyrochlore")
    proposals = proposer.enumerate(request)
    assert len(proposals) > 100
    assert proposals == sorted(proposals, key=lambda p: (-p.log_score, p.formula))
    assert all(formula_ratio(p.formula) == (2, 2, 7) for p in proposals[:200])


def test_impossible_request_gives_nothing(proposer):
    assert proposer.propose(parse_request("a novel oxyfluoride perovskite"), 5, 0) == []


def test_analogues_seed_the_search(proposer):
    halides = {"F", "Cl", "Br", "I"}
    def n_halides(text):
        return sum(bool(formula_elements(f) & halides) for f in _formulae(proposer, text, 10))

    assert n_halides("a novel perovskite like CsPbI3") >= 6 > n_halides("a novel oxide perovskite")
    got = _formulae(proposer, "a novel material similar to LiFePO4", 8)
    assert all(formula_ratio(f) == (1, 1, 1, 4) for f in got)
