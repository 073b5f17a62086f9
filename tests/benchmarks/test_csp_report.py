"""The CSP benchmark's per-arity rates, their re-weighting to the full MP-20 test mix and the
rates without near-duplicate test entries: hand-made item lists, then one tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from genms.benchmarks import csp
from genms.benchmarks.arity_mix import load_shares, reweighted_to_full_mix
from genms.benchmarks.csp import (
    CSPEvalConfig,
    breakdown_lines,
    excluding_near_duplicates,
    is_mp20_test,
    mp20_test_report,
    run_csp_benchmark,
    save_samples,
    summarise,
)
from genms.crystal.structure import Crystal
from genms.data.near_duplicates import load_near_duplicate_ids
from genms.data.sources import file_sha256
from genms.evaluate.intervals import wilson
from tests.evaluate.handmade_crystals import cscl, perovskite, rocksalt_primitive

SHARES = {"1": 0.1, "2": 0.2, "3": 0.4, "4": 0.2, "5+": 0.1}
ARITIES = ["2", "2", "3", "3", "3", "4"]
IDS = [f"mp-{i}" for i in range(6)]


def _items(k1: list[bool], k3: list[bool], scored_k3: list[int]) -> tuple[dict, dict]:
    """Per-item results whose k=1 / k=3 matches are ``k1`` / ``k3`` (all valid)."""
    first = {i: {"index": i, "first": True, "gt_valid": True, "valid": [True],
                 "rms": [0.1 if m else None]} for i, m in enumerate(k1)}
    rest = {i: {"index": i, "first": False, "gt_valid": True, "valid": [True, True],
                "rms": [0.2 if k3[i] and not k1[i] else None, None]} for i in scored_k3}
    return first, rest


# item: 0 (2 el.) k1 + k3; 1 (2) k3 only; 2 (3) k1; 3 (3) none; 4 (3) k3 only; 5 (4) none
K1 = [True, False, True, False, False, False]
K3 = [True, True, True, False, True, False]


def test_by_arity_and_reweighting_to_the_full_mix():
    first, rest = _items(K1, K3, list(range(6)))
    out = summarise(6, first, rest, 3, arities=ARITIES)
    by = out["by_arity"]
    assert list(by) == ["2", "3", "4"]  # arities without items are left out
    assert (by["2"]["n"], by["2"]["match_rate_k1"], by["2"]["match_rate_k3"]) == (2, 0.5, 1.0)
    assert by["3"]["match_rate_k1"] == pytest.approx(1 / 3)
    assert by["3"]["match_rate_k3"] == pytest.approx(2 / 3)
    assert by["4"]["match_rate_k1"] == 0.0 and by["4"]["match_rate_k3_ci"] == wilson(0, 1)

    mix = reweighted_to_full_mix(by, [1, 3], SHARES)
    # 1 and 5+ have weight but no item: 2 / 3 / 4 get 0.2 / 0.4 / 0.2 over 0.8
    assert mix["missing_arities"] == {"k1": ["1", "5+"], "k3": ["1", "5+"]}
    assert mix["match_rate_k1"] == pytest.approx(0.25 * 0.5 + 0.5 / 3 + 0.25 * 0.0)
    # var = 0.0625·0.25/2 + 0.25·(2/9)/3 = 0.026331; half-width 0.31805, clipped at 0
    assert mix["match_rate_k1_ci"] == [0.0, 0.6097]
    assert mix["match_rate_k3"] == pytest.approx(0.25 + 0.5 * 2 / 3)
    assert mix["match_rate_k3_ci"] == [0.3166, 0.8501]
    assert "stratified" in mix["method"] and mix["full_mix_shares"] == SHARES


def test_an_arity_scored_at_k1_only_is_missing_at_k3():
    first, rest = _items(K1, K3, [0, 1, 2, 3, 4])  # the matching budget ran out before item 5
    mix = reweighted_to_full_mix(summarise(6, first, rest, 3, arities=ARITIES)["by_arity"],
                                 [1, 3], SHARES)
    assert mix["missing_arities"] == {"k1": ["1", "5+"], "k3": ["1", "4", "5+"]}
    assert mix["match_rate_k3"] == pytest.approx((0.2 * 1.0 + 0.4 * 2 / 3) / 0.6)


def test_near_duplicates_are_left_out_by_id():
    first, rest = _items(K1, K3, list(range(6)))
    out = excluding_near_duplicates(IDS, {"mp-0", "mp-4", "mp-elsewhere"}, first, rest, 3)
    assert out["n_items"] == 4 and out["n_excluded"] == 2
    assert out["match_rate_k1"] == 0.25 and out["match_rate_k1_ci"] == wilson(1, 4)
    assert out["match_rate_k3"] == 0.5 and out["n_test_k3"] == 4

    report = mp20_test_report(summarise(6, first, rest, 3, arities=ARITIES)["by_arity"], IDS,
                              first, rest, 3, SHARES, {"mp-5"})
    assert report["excluding_near_duplicates"]["match_rate_k1"] == pytest.approx(2 / 5)
    assert report["reweighted_full_mix"]["match_rate_k3"] == pytest.approx(0.25 + 0.5 * 2 / 3)
    no_ids = mp20_test_report({}, None, first, rest, 3, SHARES)
    assert set(no_ids) == {"reweighted_full_mix"}
    assert no_ids["reweighted_full_mix"]["match_rate_k1"] is None


def test_console_lines():
    first, rest = _items(K1, K3, list(range(6)))
    result = {"k": [1, 3], **summarise(6, first, rest, 3, arities=ARITIES)}
    result |= mp20_test_report(result["by_arity"], IDS, first, rest, 3, SHARES, {"mp-5"})
    lines = breakdown_lines(result)
    assert lines["match_rate_k1 by elements (n)"] == "2: 0.500 (2)  3: 0.333 (3)  4: 0.000 (1)"
    assert lines["match_rate_k1, full MP-20 test mix"] == (
        "0.2917 [0.000, 0.610] (no 1, 5+-element items)")
    assert lines["match_rate_k3, 1 near duplicates out"] == "0.8000 [0.376, 0.964] (n 5)"
    assert breakdown_lines({"k": [1]}) == {}


def test_a_run_on_the_mp20_test_split_reports_both_blocks(tmp_path):
    gts = [rocksalt_primitive(), perovskite(), cscl()]  # 2, 3 and 2 elements
    p = perovskite()
    stretched = Crystal(p.frac_coords, p.atomic_numbers, np.diag([3.905, 3.905, 7.0]))
    save_samples(tmp_path / "samples.npz", [[gts[0], gts[0]], [stretched, p], [gts[2], gts[2]]])
    duplicate = sorted(load_near_duplicate_ids())[0]  # an id of the shipped list
    ids = [duplicate, "mp-not-listed-1", "mp-not-listed-2"]
    cfg = CSPEvalConfig(k=[1, 2], workers=1, samples_in=str(tmp_path / "samples.npz"),
                        results_out=str(tmp_path / "items.jsonl"))
    result = run_csp_benchmark(cfg, gts, None, "", ids)
    assert result["match_rate_k1"] == pytest.approx(2 / 3) and result["match_rate_k2"] == 1.0
    assert result["by_arity"]["2"]["match_rate_k1"] == 1.0
    assert result["by_arity"]["3"]["match_rate_k1"] == 0.0
    shares = load_shares()
    mix = result["reweighted_full_mix"]
    assert mix["match_rate_k1"] == pytest.approx(shares["2"] / (shares["2"] + shares["3"]))
    assert mix["match_rate_k2"] == 1.0
    assert mix["missing_arities"]["k1"] == ["1", "4", "5+"]
    dup = result["excluding_near_duplicates"]
    assert (dup["n_items"], dup["n_excluded"], dup["match_rate_k1"]) == (2, 1, 0.5)

    # another split (the items are read back, not matched again): per-arity numbers only
    val = CSPEvalConfig(split="val", k=[1, 2], workers=1, samples_in=cfg.samples_in,
                        results_in=cfg.results_out)
    other = run_csp_benchmark(val, gts, None, "", ids)
    assert other["by_arity"]["3"]["match_rate_k2"] == 1.0
    assert "reweighted_full_mix" not in other and "excluding_near_duplicates" not in other


def test_which_runs_are_on_the_mp20_test_split(tmp_path, monkeypatch):
    assert is_mp20_test(CSPEvalConfig()) and is_mp20_test(CSPEvalConfig(dataset="mp_20"))
    assert not is_mp20_test(CSPEvalConfig(split="val"))
    assert not is_mp20_test(CSPEvalConfig(dataset="perov_5", label="perov5"))
    subset = tmp_path / "test.csv"
    subset.write_text("material_id,cif\n")
    assert not is_mp20_test(CSPEvalConfig(csv=str(subset)))  # not the subset's bytes
    monkeypatch.setattr(csp, "subset_sha256", lambda: file_sha256(subset))
    assert is_mp20_test(CSPEvalConfig(csv=str(subset), label="anything"))
