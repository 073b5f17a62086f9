"""The CSP benchmark's summary: DiffCSP's k=1 / k=K rules, intervals and the per-size breakdown."""

import pytest

from genms.benchmarks.csp import summarise


def _item(index, first, gt_valid, valid, rms):
    return {"index": index, "first": first, "gt_valid": gt_valid, "valid": valid, "rms": rms}


def test_summary_rules_and_size_bins():
    # item 0 (8 atoms): matches at k=1; item 1 (8): only a later candidate matches;
    # item 2 (24 atoms): invalid ground truth, so k=1 cannot count; item 3 (40): nothing matches
    first = {0: _item(0, True, True, [True], [0.1]),
             1: _item(1, True, True, [True], [None]),
             2: _item(2, True, False, [True], [0.2]),
             3: _item(3, True, True, [False], [None])}
    rest = {0: _item(0, False, True, [True, True], [None, 0.05]),
            1: _item(1, False, True, [True, False], [0.3, None]),
            2: _item(2, False, False, [True, True], [None, None]),
            3: _item(3, False, True, [True, True], [None, None])}
    out = summarise(4, first, rest, 3, sizes=[8, 8, 24, 40])
    assert out["match_rate_k1"] == 0.25 and out["rmse_k1"] == pytest.approx(0.1)
    assert out["match_rate_k3"] == 0.75  # item 2's k=3 counts the later candidates' rms as they are
    assert out["rmse_k3"] == pytest.approx((0.05 + 0.3 + 0.2) / 3)
    lo, hi = out["match_rate_k1_ci"]
    assert lo < 0.25 < hi
    assert out["validity"] == pytest.approx(10 / 12)
    bins = out["by_size"]
    assert set(bins) == {"1-20", "21-32", "33-52"}  # empty bins are left out
    assert bins["1-20"]["n"] == 2 and bins["1-20"]["match_rate_k1"] == 0.5
    assert bins["1-20"]["match_rate_k3"] == 1.0
    assert bins["21-32"]["match_rate_k1"] == 0.0 and bins["21-32"]["gt_validity"] == 0.0
    assert bins["33-52"]["match_rate_k3"] == 0.0
    assert bins["33-52"]["validity"] == pytest.approx(2 / 3)


def test_summary_without_sizes_and_unscored_items():
    first = {0: _item(0, True, True, [True], [0.1])}
    out = summarise(3, first, {}, 1)
    assert "by_size" not in out and out["n_test_k1"] == 1 and out["match_rate_k1"] == 1.0
