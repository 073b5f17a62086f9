"""The forward tree search on fakes: determinism, W pruning, λ weighting, filters, outcomes."""

from __future__ import annotations

import pytest

from genms.search.candidates import NO_FORMULA, NO_FORMULA_PASSED, NO_VALID_STRUCTURE
from genms.search.config import FilterConfig, SearchConfig
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from tests.search.fakes import (
    CubicPerovskiteSampler,
    FakePredictor,
    FakeProposer,
    FakeSampler,
    FakeScorer,
)

R_HI = {
    "SrTiO3": 0.9,
    "BaTiO3": 0.8,
    "CaTiO3": 0.7,
    "KNbO3": 0.6,
    "NaCl2": 0.5,
    "LaAlO3": 0.4,
    "BaZrO3": 0.0,
}


def make_search(
    config: SearchConfig, proposer=None, sampler=None, predictor=None, scorer=None, **kw
):
    return ForwardTreeSearch(
        proposer=proposer or FakeProposer(),
        scorer=scorer or FakeScorer(R_HI),
        sampler=sampler_worker(sampler or FakeSampler()),
        energy=energy_worker(predictor or FakePredictor()),
        config=config,
        **kw,
    )


def summary(result):
    return [
        (c.id, c.status, c.rank, round(c.e_form, 9) if c.e_form is not None else None)
        for c in result.candidates
    ]


def test_same_seed_same_result_other_seed_differs():
    cfg = SearchConfig(H=7, W=3, L=4)
    a = make_search(cfg).run("perovskite", seed=3)
    b = make_search(cfg).run("perovskite", seed=3)
    c = make_search(cfg).run("perovskite", seed=4)
    assert a.ok and summary(a) == summary(b)
    assert summary(a) != summary(c)
    assert [x.id for x in a.ranked] == [x.id for x in b.ranked]


def test_chunked_sampling_is_deterministic():
    one = make_search(SearchConfig(H=7, W=3, L=4, sample_chunk=1)).run("x", seed=0)
    many = make_search(SearchConfig(H=7, W=3, L=4, sample_chunk=8)).run("x", seed=0)
    # Chunks are seeded by their content: different chunking, different (but valid) samples.
    assert len(one.candidates) == len(many.candidates) == 12
    again = make_search(SearchConfig(H=7, W=3, L=4, sample_chunk=1)).run("x", seed=0)
    assert summary(one) == summary(again)


def test_w_prunes_to_the_best_formulae_by_r_hi():
    result = make_search(SearchConfig(H=7, W=2, L=3)).run("x", seed=0)
    expanded = [n.formula for n in result.formulae if n.expanded]
    assert expanded == ["SrTiO3", "BaTiO3"]
    assert {c.formula for c in result.candidates} == {"SrTiO3", "BaTiO3"}
    assert len(result.candidates) == 6
    # BaZrO3 (R_hi 0) is pruned and ranked last without a rank.
    last = result.formulae[-1]
    assert last.formula == "BaZrO3" and not last.passed and last.rank is None
    assert [n.rank for n in result.formulae[:6]] == [1, 2, 3, 4, 5, 6]


def test_h_limits_the_proposals():
    proposer = FakeProposer()
    result = make_search(SearchConfig(H=2, W=5, L=1), proposer=proposer).run("x", seed=0)
    assert [n.formula for n in result.formulae] == ["SrTiO3", "BaTiO3"]


def test_breadth_first_spreads_the_budget_over_every_survivor():
    result = make_search(SearchConfig(H=7, W=2, L=3, strategy="breadth_first")).run("x", seed=0)
    expanded = [n for n in result.formulae if n.expanded]
    assert len(expanded) == 6  # every survivor of R_hi (BaZrO3 fails)
    assert sum(n.n_requested for n in expanded) == 6 == len(result.candidates)


def test_lambda_weighting():
    lo_only = make_search(SearchConfig(H=7, W=4, L=3, lambda_hi=0.0, lambda_lo=1.0)).run(
        "x", seed=0
    )
    energies = [c.e_form for c in lo_only.ranked]
    assert energies == sorted(energies)
    hi_only = make_search(SearchConfig(H=7, W=4, L=3, lambda_hi=1.0, lambda_lo=0.0)).run(
        "x", seed=0
    )
    r_hi = [c.r_hi for c in hi_only.ranked]
    assert r_hi == sorted(r_hi, reverse=True)
    both = make_search(SearchConfig(H=7, W=4, L=3, lambda_hi=2.0, lambda_lo=0.5)).run("x", seed=0)
    for c in both.ranked:
        assert c.score == pytest.approx(2.0 * c.r_hi - 0.5 * c.e_form)
        assert c.r_lo == pytest.approx(-c.e_form)
    scores = [c.score for c in both.ranked]
    assert scores == sorted(scores, reverse=True)


def test_filters_structure_composition_range_and_spread():
    # NaCl2 is not charge balanced; CaTiO3 collapses onto one point.
    cfg = SearchConfig(H=7, W=5, L=2)
    result = make_search(cfg, sampler=FakeSampler(collapse=["CaTiO3"])).run("x", seed=0)
    status = {c.formula: c.status for c in result.candidates}
    assert status["CaTiO3"] == "invalid_structure"
    assert status["NaCl2"] == "invalid_composition"
    assert status["SrTiO3"] == "kept"
    assert all(c.e_form is None for c in result.candidates if c.status == "invalid_structure")

    out = make_search(cfg, predictor=FakePredictor(max_e=-100.0)).run("x", seed=0)
    assert out.status == NO_VALID_STRUCTURE
    assert "out_of_range" in out.message and "search.filters" in out.message
    assert out.candidates and all(
        c.status in ("out_of_range", "invalid_composition") for c in out.candidates
    )

    spread = make_search(SearchConfig(H=7, W=5, L=2, filters=FilterConfig(max_std_ev_per_atom=0.1)),
                         predictor=FakePredictor(std=0.5)).run("x", seed=0)
    assert {c.status for c in spread.candidates} == {"uncertain", "invalid_composition"}

    off = FilterConfig(structural=False, composition=False, trusted_range=False)
    lax = make_search(
        SearchConfig(H=7, W=5, L=2, filters=off),
        sampler=FakeSampler(collapse=["CaTiO3"]),
        predictor=FakePredictor(max_e=-100.0),
    ).run("x", seed=0)
    assert all(c.kept for c in lax.candidates)


def test_energy_window():
    cfg = SearchConfig(H=7, W=4, L=3, filters=FilterConfig(e_form_max=-2.5))
    result = make_search(cfg).run("x", seed=0)
    assert all(c.e_form <= -2.5 for c in result.ranked)
    assert any(c.status == "out_of_range" for c in result.candidates)


def test_formula_units_spread_and_max_atoms():
    cfg = SearchConfig(H=2, W=2, L=5, formula_units=[1, 2], max_atoms=8)
    result = make_search(cfg, proposer=FakeProposer(["SrTiO3", "NaCl"])).run("x", seed=0)
    by = {}
    for c in result.candidates:
        by.setdefault(c.formula, []).append(c.formula_units)
    assert sorted(by["SrTiO3"]) == [1, 1, 1, 1, 1]  # Z=2 would be 10 atoms > max_atoms
    assert sorted(by["NaCl"]) == [1, 1, 1, 2, 2]
    assert all(c.n_atoms == 5 for c in result.candidates if c.formula == "SrTiO3")
    big = make_search(SearchConfig(H=1, W=1, L=2, formula_units=[2], max_atoms=8)).run("x", seed=0)
    assert big.status == NO_VALID_STRUCTURE
    assert "max_atoms" in big.formulae[0].note


def test_duplicate_proposals_are_merged():
    result = make_search(
        SearchConfig(H=5, W=5, L=1), proposer=FakeProposer(["SrTiO3", "Sr2Ti2O6", "BaTiO3"])
    ).run("x", seed=0)
    assert [n.formula for n in result.formulae] == ["SrTiO3", "BaTiO3"]


def test_no_formula_proposed():
    result = make_search(SearchConfig(), proposer=FakeProposer([])).run("x", seed=0)
    assert result.status == NO_FORMULA and not result.candidates
    assert "relax its constraints" in result.message


def test_no_formula_survives_r_hi():
    result = make_search(SearchConfig(H=3), scorer=FakeScorer({f: 0.0 for f in R_HI})).run(
        "x", seed=0
    )
    assert result.status == NO_FORMULA_PASSED
    assert "ratio is not 1:1:3" in result.message and "search.H" in result.message
    assert len(result.formulae) == 3  # the partial result lists what was rejected


def test_sampler_failure_is_reported_not_raised():
    result = make_search(SearchConfig(H=2, W=2, L=2, sample_chunk=1),
                         sampler=FakeSampler(fail_on="SrTiO3")).run("x", seed=0)
    assert result.ok  # BaTiO3 still sampled
    node = result.formulae[0]
    assert node.formula == "SrTiO3" and "denoiser blew up" in node.note and node.n_sampled == 0
    dead = make_search(SearchConfig(H=1, W=1, L=2), sampler=FakeSampler(fail_on="SrTiO3")).run(
        "x", seed=0
    )
    assert dead.status == NO_VALID_STRUCTURE and "denoiser blew up" in dead.message


def test_result_helpers():
    result = make_search(SearchConfig(H=4, W=3, L=3)).run("x", seed=0)
    best = result.best_per_formula()
    assert len(best) == 3 and len({c.formula for c in best}) == 3
    assert result.top(2) == result.ranked[:2]
    df = result.to_dataframe()
    assert len(df) == len(result.candidates) and df["rank"].iloc[0] == 1
    assert result.ranked[0].structure.composition.reduced_formula in {"SrTiO3", "BaTiO3", "CaTiO3"}
    assert set(result.timings) == {"propose", "sample", "check", "energy"}


def test_distinct_top_skips_near_copies():
    result = make_search(
        SearchConfig(H=3, W=2, L=3), sampler=CubicPerovskiteSampler(jitter=0.01)
    ).run("x", seed=0)
    assert len(result.top(4)) == 4
    distinct = result.top(4, distinct=True)
    assert len(distinct) == 2 and {c.formula for c in distinct} == {"SrTiO3", "BaTiO3"}
    assert distinct[0] is result.ranked[0]
