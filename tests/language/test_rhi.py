"""R_hi: every check reported per formula with a reason; hard failures zero the total."""

from __future__ import annotations

import pytest

from genms.data.reference import ReferenceFormulae
from genms.interfaces import FormulaCandidate
from genms.language.request import parse_request
from genms.language.rhi import CHECKS, RHi, RHiConfig, score_formulae


def _by_formula(scored):
    return {s.formula: s for s in scored}


def test_checks_and_reasons(reference):
    scored = score_formulae(
        "a novel chloride perovskite",
        ["CsSnCl3", "CsPbCl3", "Xx2", "CsSnCl3", "NaCl", "CsPbBr3", "KMgCl3", "KNaCl3"],
        reference,
    )
    by = _by_formula(scored)
    good = next(s for s in scored if s.formula == "CsSnCl3" and s.passed)
    assert [c.name for c in good.checks] == [
        "syntax",
        "uniqueness",
        "ratio",
        "elements",
        "charge",
        "likelihood",
    ]
    assert 0 < good.total <= 1 and all(c.reason for c in good.checks)
    assert "novel" in good.check("uniqueness").reason
    assert "perovskite ABX3" in good.check("likelihood").reason
    known = by["CsPbCl3"]
    assert not known.passed and known.total == 0 and "known" in known.check("uniqueness").reason
    assert by["Xx2"].check("syntax").passed is False and by["Xx2"].checks[0].hard
    repeat = [s for s in scored if s.formula == "CsSnCl3" and not s.passed][0]
    assert "repeats" in repeat.check("uniqueness").reason
    assert "does not match 1:1:3" in by["NaCl"].check("ratio").reason
    assert "lacks required Cl" in by["CsPbBr3"].check("elements").reason
    assert not by["KNaCl3"].passed and "SMACT" in by["KNaCl3"].check("charge").reason  # +2 vs -3
    # passing formulae first, by total
    totals = [s.total for s in scored if s.passed]
    assert totals == sorted(totals, reverse=True) and scored[0].passed


def test_uniqueness_soft_when_novelty_not_asked(reference):
    s = score_formulae("a perovskite", ["SrTiO3"], reference)[0]
    assert s.passed and s.check("uniqueness").score == 0 and not s.check("uniqueness").hard
    assert "novelty not requested" in s.check("uniqueness").reason
    listed = score_formulae(
        "a perovskite not in this list: BaZrO3", ["BaZrO3", "SrTiO3"], reference
    )
    by = _by_formula(listed)
    assert not by["BaZrO3"].passed and by["SrTiO3"].passed  # only the list is fatal here


def test_classes_and_any_of_reported(reference):
    s = score_formulae("a metal-only compound", ["CoPt3", "CoO"], reference)
    by = _by_formula(s)
    assert by["CoPt3"].passed and not by["CoO"].passed
    assert "only metals: no" in by["CoO"].check("elements").reason


class FakeRanker:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.seen = None

    def rank(self, request, formulae):
        if self.fail:
            raise RuntimeError("endpoint down")
        self.seen = list(formulae)
        n = len(formulae)
        return [i / (n - 1) for i in range(n)], "reverse order"


def test_ranker_scores_survivors_only(reference):
    ranker = FakeRanker()
    scored = RHi(reference, ranker=ranker).score(parse_request("a novel chloride perovskite"),
                                                 ["KMgCl3", "CsPbCl3", "CsSnCl3"])
    assert ranker.seen == ["KMgCl3", "CsSnCl3"]  # the known CsPbCl3 is not sent for ranking
    by = _by_formula(scored)
    assert (
        by["CsSnCl3"].check("llm_rank").score == 1.0 and by["KMgCl3"].check("llm_rank").score == 0.0
    )
    assert by["CsPbCl3"].check("llm_rank") is None


def test_ranker_failure_keeps_other_checks(reference):
    scored = RHi(reference, ranker=FakeRanker(fail=True)).score(
        "a novel chloride perovskite", ["KMgCl3", "CsSnCl3"]
    )
    assert all(s.passed for s in scored)
    assert "ranking unavailable" in scored[0].check("llm_rank").reason


def test_config_and_candidates():
    with pytest.raises(ValueError, match="unknown R_hi check"):
        RHi(ReferenceFormulae.from_formulae([]), RHiConfig(hard=["nonsense"]))
    ref = ReferenceFormulae.from_formulae(["NaCl"])
    cand = FormulaCandidate("KCl", 0.7, ("from a test",), "test")
    s = RHi(ref, RHiConfig(hard=["syntax"])).score("a novel rocksalt", [cand])[0]
    assert s.source == "test" and s.proposer_score == 0.7 and s.proposer_reasons == ("from a test",)
    assert set(s.to_dict()["checks"]) <= set(CHECKS)
