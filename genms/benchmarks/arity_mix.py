"""Arity (number of distinct elements) of test crystals and the full MP-20 test split's mix.

The MP-20 test subset in the data folder (7,441 of the 9,046 rows of the CDVAE test split)
holds every 2- and 3-element row of the full split but only samples of the others, so its mix
leans to 2 and 3 elements. The CSP benchmark therefore reports its match rates per arity and
re-weighted to the full split's mix (:func:`reweighted_to_full_mix`).

The full mix is not in the data; :func:`derive_mix` estimates it from the subset's ``source``
column (``scripts/build_mp20_test_mix.py`` writes it to :data:`SHIPPED_PATH`):

* 2 and 3 elements: exact. The rows from the ``mp_20_biternary`` source are every 2- and
  3-element row of the full split (data README, "Added 2nd pass").
* 1, 4 and 5+ elements: the other ``9,046 − n_2 − n_3`` rows are split in the proportions seen
  in the unbiased samples inside the subset: the first 1,000 upstream rows (``mp_20_pilot``) and
  Diffhedron's random 600 (``test_small.csv``). The shares' own sampling error is not carried
  into the benchmark's intervals.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genms.evaluate.intervals import stratified_rate, wilson
from genms.paths import ASSETS_DIR

SHIPPED_PATH = ASSETS_DIR / "mp20_test_arity_mix.json"
#: The arity bins: 1, 2, 3, 4 and 5 or more distinct elements.
ARITIES = ("1", "2", "3", "4", "5+")
#: Rows of the full CDVAE MP-20 test.csv (blob 5dc64304…, data README).
MP20_TEST_ROWS = 9046
#: The ``source`` of the rows that are every 2/3-element row of the full split.
EXACT_TAG = "mp_20_biternary/"
EXACT_ARITIES = ("2", "3")
#: The ``source`` tags of the unbiased samples: the first 1,000 upstream rows, a random 600.
UNBIASED_TAGS = ("mp_20_pilot/", "/test_small.csv")
REWEIGHT_METHOD = (
    "sum over arities a (1, 2, 3, 4, 5+ elements) with scored items of w_a * p_a, where w is the "
    "full MP-20 test split's arity share (genms/assets/mp20_test_arity_mix.json) renormalised "
    "over those arities; 95 % interval: normal approximation with the stratified variance "
    "sum_a w_a^2 p_a (1 - p_a) / n_a, clipped to [0, 1]; the shares are taken as exact (the "
    "1/4/5+ shares are estimates from the subset's unbiased samples)"
)


def arity_label(n_elements: int) -> str:
    """The arity bin of a crystal with ``n_elements`` distinct elements."""
    if n_elements < 1:
        raise ValueError(f"a crystal has at least one element; got {n_elements}")
    return str(n_elements) if n_elements < 5 else "5+"


def arity(atomic_numbers) -> str:
    """The arity bin of a crystal given its atomic numbers."""
    return arity_label(len(np.unique(np.asarray(atomic_numbers))))


def derive_mix(arities: Sequence[str], sources: Sequence[str],
               n_full: int = MP20_TEST_ROWS) -> dict:
    """The full split's arity counts and shares from the subset's rows (see the module doc).

    ``arities``: each subset row's arity bin; ``sources``: its ``source`` value. Raises
    ``ValueError`` when the subset contradicts the derivation (a 2/3-element row outside the
    exact source, an exact-source row of another arity, or no unbiased 1/4/5+-element row).
    """
    if len(arities) != len(sources):
        raise ValueError(f"{len(arities)} arities for {len(sources)} sources")
    exact = [EXACT_TAG in s for s in sources]
    unbiased = [any(tag in s for tag in UNBIASED_TAGS) for s in sources]
    for a, is_exact in zip(arities, exact, strict=True):
        if is_exact != (a in EXACT_ARITIES):
            raise ValueError(f"a {a}-element row {'in' if is_exact else 'outside'} the "
                             f"{EXACT_TAG!r} source: the 2/3-element counts would not be exact")
    exact_counts = Counter(a for a, e in zip(arities, exact, strict=True) if e)
    sample = Counter(a for a, u in zip(arities, unbiased, strict=True) if u)
    rest = [a for a in ARITIES if a not in EXACT_ARITIES]
    n_rest_sample = sum(sample[a] for a in rest)
    if not n_rest_sample:
        raise ValueError("no unbiased row with 1, 4 or 5+ elements: the rest cannot be split")
    n_exact = sum(exact_counts.values())
    n_rest = n_full - n_exact
    counts = {a: float(exact_counts[a]) if a in EXACT_ARITIES
              else n_rest * sample[a] / n_rest_sample for a in ARITIES}
    n_sample = sum(unbiased)
    return {
        "n_full": n_full,
        "counts": {a: round(c, 1) for a, c in counts.items()},
        "shares": {a: round(c / n_full, 6) for a, c in counts.items()},
        "exact_arities": list(EXACT_ARITIES),
        "derivation": (
            f"2 and 3 elements: the {n_exact} subset rows whose source contains {EXACT_TAG!r} "
            "(every 2/3-element row of the full split); 1, 4 and 5+: the other "
            f"{n_full} - {n_exact} = {n_rest} rows split in the proportions of the "
            f"{n_rest_sample} 1/4/5+-element rows among the {n_sample} unbiased rows "
            f"(source contains one of {list(UNBIASED_TAGS)})"
        ),
        "subset": {"rows": len(arities), "counts": {a: Counter(arities)[a] for a in ARITIES}},
        "unbiased_sample": {
            "rows": n_sample,
            "source_tags": list(UNBIASED_TAGS),
            "counts": {a: sample[a] for a in ARITIES},
            "rows_1_4_5plus": n_rest_sample,
            "proportions_1_4_5plus": {a: round(sample[a] / n_rest_sample, 6) for a in rest},
            "proportions_1_4_5plus_ci95": {a: wilson(sample[a], n_rest_sample) for a in rest},
        },
        "check_2_3_share": {
            "full_split": round(n_exact / n_full, 6),
            "unbiased_sample": round(sum(sample[a] for a in EXACT_ARITIES) / max(n_sample, 1), 6),
            "unbiased_sample_ci95": wilson(sum(sample[a] for a in EXACT_ARITIES), n_sample),
        },
    }


def load_shares(path: str | Path = SHIPPED_PATH) -> dict[str, float]:
    """The full MP-20 test split's arity shares (the shipped file unless ``path`` is given)."""
    return dict(json.loads(Path(path).read_text())["shares"])


def subset_sha256(path: str | Path = SHIPPED_PATH) -> str:
    """The sha256 of the MP-20 test subset CSV the mix was derived from."""
    return str(json.loads(Path(path).read_text())["source"]["sha256"])


def reweighted_to_full_mix(by_arity: dict, ks: Sequence[int], shares: dict[str, float]) -> dict:
    """The match rate at each k re-weighted to ``shares``, from the per-arity numbers of
    :func:`genms.benchmarks.csp.summarise` (``by_arity[a]["match_rate_k{k}"]`` and
    ``["n_test_k{k}"]``).

    An arity with a share but no scored item is listed under ``missing_arities["k{k}"]`` and the
    shares are renormalised over the others.
    """
    out: dict = {"method": REWEIGHT_METHOD, "full_mix_shares": dict(shares)}
    missing = {}
    for k in ks:
        strata = {a: (b[f"match_rate_k{k}"], b[f"n_test_k{k}"])
                  for a, b in by_arity.items() if f"n_test_k{k}" in b}
        r = stratified_rate(strata, shares)
        out[f"match_rate_k{k}"] = r.rate
        out[f"match_rate_k{k}_ci"] = r.ci
        missing[f"k{k}"] = r.missing
    out["missing_arities"] = missing
    return out
