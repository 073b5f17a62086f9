"""The full MP-20 test split's arity mix: arity bins, the derivation from the subset's sources
and the shipped file."""

from __future__ import annotations

import pytest

from genms.benchmarks.arity_mix import (
    ARITIES,
    SHIPPED_PATH,
    arity,
    arity_label,
    derive_mix,
    load_shares,
)

EXACT = "WT:data/mp_20_biternary/test.csv.gz"
PILOT = "WT:data/mp_20_pilot/test.csv.gz"
SMALL = "Diffhedron:data/mp_20/test_small.csv"


def test_arity_bins():
    assert [arity_label(n) for n in (1, 2, 3, 4, 5, 7)] == ["1", "2", "3", "4", "5+", "5+"]
    assert arity([8, 22, 38, 8, 8]) == "3"
    with pytest.raises(ValueError):
        arity_label(0)


def test_derive_mix_counts_2_3_exactly_and_splits_the_rest_by_the_unbiased_rows():
    rows = [("2", EXACT), ("2", EXACT), ("3", EXACT), ("3", f"{EXACT}|{PILOT}"),
            ("1", PILOT), ("4", PILOT), ("4", PILOT), ("4", SMALL), ("5+", f"{SMALL}|{PILOT}")]
    mix = derive_mix([a for a, _ in rows], [s for _, s in rows], n_full=20)
    # 20 - 4 exact rows = 16 split 1 : 3 : 1 as in the 5 unbiased 1/4/5+-element rows
    assert mix["counts"] == {"1": 3.2, "2": 2.0, "3": 2.0, "4": 9.6, "5+": 3.2}
    assert mix["shares"] == {"1": 0.16, "2": 0.1, "3": 0.1, "4": 0.48, "5+": 0.16}
    assert mix["unbiased_sample"]["rows"] == 6 and mix["unbiased_sample"]["rows_1_4_5plus"] == 5
    assert mix["unbiased_sample"]["proportions_1_4_5plus"] == {"1": 0.2, "4": 0.6, "5+": 0.2}
    assert mix["check_2_3_share"]["full_split"] == 0.2
    assert mix["check_2_3_share"]["unbiased_sample"] == pytest.approx(1 / 6, abs=1e-6)


@pytest.mark.parametrize("rows, message", [
    ([("2", PILOT), ("4", PILOT)], "outside"),    # a 2-element row the exact source lacks
    ([("4", EXACT), ("4", PILOT)], "in the"),     # the exact source holds only 2/3 elements
    ([("2", EXACT), ("4", "other")], "no unbiased"),
])
def test_derive_mix_refuses_a_subset_that_contradicts_it(rows, message):
    with pytest.raises(ValueError, match=message):
        derive_mix([a for a, _ in rows], [s for _, s in rows], n_full=10)


def test_the_shipped_mix_is_the_full_split():
    shares = load_shares(SHIPPED_PATH)
    assert list(shares) == list(ARITIES) and sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    assert shares["2"] * 9046 == pytest.approx(1793, abs=0.01)  # exact: every 2-element row
    assert shares["3"] * 9046 == pytest.approx(5325, abs=0.01)
