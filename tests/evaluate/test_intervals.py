import pytest

from genms.evaluate.intervals import stratified_rate, wilson


def test_wilson_interval():
    assert wilson(0, 0) is None
    lo, hi = wilson(93, 100)
    assert 0.86 < lo < 0.87 and 0.96 < hi < 0.97
    lo, hi = wilson(25, 25)
    assert hi == 1.0 and 0.86 < lo < 0.87
    assert wilson(0, 10)[0] == 0.0


def test_stratified_rate_renormalises_over_present_strata():
    # "c" has a share but no items: left out, the others' shares 0.25 / 0.5 become 1/3 / 2/3
    r = stratified_rate({"a": (0.5, 100), "b": (0.2, 50), "d": (0.9, 10)},
                        {"a": 0.25, "b": 0.5, "c": 0.25})
    assert r.missing == ["c"] and r.weights == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    assert r.rate == pytest.approx(0.3)  # "d" has no share: no weight
    # var = (1/9)·0.25/100 + (4/9)·0.16/50 = 0.0017; half-width 1.96·0.041231 = 0.080813
    assert r.ci == [0.2192, 0.3808]


def test_stratified_rate_clips_and_handles_no_items():
    r = stratified_rate({"a": (1.0, 10), "b": (0.9, 10)}, {"a": 0.5, "b": 0.5})
    # var = 0.25·0 + 0.25·0.09/10 = 0.00225; 0.95 ± 0.0930
    assert r.rate == pytest.approx(0.95) and r.ci == [0.857, 1.0]
    empty = stratified_rate({"a": (0.5, 0)}, {"a": 1.0})
    assert empty.rate is None and empty.ci is None and empty.missing == ["a"]
