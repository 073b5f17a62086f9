from genms.evaluate.intervals import wilson


def test_wilson_interval():
    assert wilson(0, 0) is None
    lo, hi = wilson(93, 100)
    assert 0.86 < lo < 0.87 and 0.96 < hi < 0.97
    lo, hi = wilson(25, 25)
    assert hi == 1.0 and 0.86 < lo < 0.87
    assert wilson(0, 10)[0] == 0.0
