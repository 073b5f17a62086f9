"""CSP match rate / RMSE: hand-made matching and non-matching pairs, DiffCSP's gating rules."""

from __future__ import annotations

import numpy as np
import pytest

from genms.crystal.convert import to_pymatgen
from genms.evaluate.matching import (
    MatchConfig,
    match_k_samples,
    match_one_sample,
    match_pair,
    rms_distance,
    structure_matcher,
)
from tests.evaluate.handmade_crystals import cscl, fluorite, perturb, rocksalt, rocksalt_primitive


def test_rocksalt_matches_its_primitive_cell_and_a_perturbed_permuted_copy():
    assert match_pair(rocksalt(), rocksalt_primitive()).rms == pytest.approx(0.0, abs=1e-6)
    noisy = perturb(rocksalt(), 0.05, seed=1)
    r = match_pair(noisy, rocksalt())
    assert r.matched and 0.0 < r.rms < 0.05
    # RMS is pymatgen's normalised value (the same call DiffCSP makes).
    expected = structure_matcher(0.5, 0.3, 10).get_rms_dist(
        to_pymatgen(noisy), to_pymatgen(rocksalt())
    )[0]
    assert r.rms == pytest.approx(expected)
    # A uniformly expanded lattice still matches (StructureMatcher scales volumes).
    assert match_pair(rocksalt(a=6.2), rocksalt()).matched


def test_different_structure_or_composition_does_not_match():
    assert not match_pair(cscl(), rocksalt_primitive()).matched  # same formula, other structure
    assert not match_pair(rocksalt(cation="K"), rocksalt()).matched  # other element


def test_real_structures_match_perturbed_copies_not_each_other(mp20_test):
    for c in mp20_test[:4]:
        assert match_pair(perturb(c, 0.02, seed=5), c).matched
    assert not match_pair(mp20_test[0], mp20_test[1]).matched
    assert not match_pair(perturb(mp20_test[0], 1.0, seed=5), mp20_test[0]).matched  # beyond stol


def test_one_sample_needs_both_valid():
    """DiffCSP's RecEval: an invalid ground truth makes the item a miss even for a good
    prediction."""
    gts = [rocksalt(), rocksalt(), rocksalt()]
    preds = [perturb(rocksalt(), 0.03, seed=2), perturb(rocksalt(), 0.03, seed=3), cscl()]
    gt_valid = [True, False, True]  # e.g. a ground truth failing SMACT
    m = match_one_sample(preds, gts, gt_valid=gt_valid, n_workers=1, progress=False)
    assert m.mode == "1-sample"
    assert [it.matched for it in m.items] == [True, False, False]
    assert m.items[1].gt_valid is False and m.items[1].rms == (None,)
    assert m.n_compared == 2  # the gated pair never reaches StructureMatcher
    assert m.match_rate == pytest.approx(1 / 3)
    assert m.rmse == pytest.approx(m.items[0].best_rms)
    # The k-sample rule checks only the predictions: the same item now matches.
    k = match_k_samples([[p] for p in preds], gts, n_workers=1, progress=False)
    assert [it.matched for it in k.items] == [True, True, False]
    assert k.items[1].gt_valid is None and k.mode == "k-sample"


def test_one_sample_computes_ground_truth_validity():
    nacl2 = fluorite(a=6.0, cation="Na", anion="Cl")  # NaCl2 fails SMACT
    m = match_one_sample([nacl2, rocksalt()], [nacl2, rocksalt()], n_workers=1, progress=False)
    assert [it.gt_valid for it in m.items] == [False, True]
    assert [it.matched for it in m.items] == [False, True]
    assert m.match_rate == 0.5 and m.rmse == pytest.approx(0.0, abs=1e-6)


def test_invalid_prediction_is_a_miss():
    bad = rocksalt()
    frac = bad.frac_coords.copy()
    frac[1] = frac[0] + [0.03, 0, 0]  # two atoms 0.17 Å apart
    too_close = type(bad)(frac, bad.atomic_numbers, bad.lattice)
    m = match_one_sample([too_close, None], [rocksalt(), rocksalt()], n_workers=1, progress=False)
    assert m.n_matched == 0 and m.n_compared == 0 and m.rmse is None


def test_k_samples_takes_min_rms_over_valid_matching_candidates():
    gt = rocksalt_primitive()  # no smaller primitive cell, so noisy copies still reduce alike
    cands = [cscl(), perturb(gt, 0.15, seed=4), perturb(gt, 0.03, seed=4), None, gt]
    pred_valid = [True, True, True, False, False]  # the exact copy is flagged invalid: skipped
    m = match_k_samples([cands, [rocksalt()]], [gt, cscl()], pred_valid=[pred_valid, [True]],
                        n_workers=1, progress=False)
    it = m.items[0]
    assert it.rms[0] is None and it.rms[3] is None and it.rms[4] is None
    assert it.rms[1] > it.rms[2] > 0
    assert it.best == 2 and it.best_rms == pytest.approx(match_pair(cands[2], gt).rms)
    assert m.match_rate == 0.5 and m.rmse == pytest.approx(it.best_rms)
    assert m.max_candidates == 5 and m.n_compared == 4
    d = m.to_dict()
    assert d["items"][0]["best_candidate"] == 2 and d["n_items"] == 2


def test_validity_is_computed_when_not_given():
    gt = rocksalt()
    m = match_k_samples([[None, perturb(gt, 0.02, seed=9)]], [gt], n_workers=1, progress=False)
    assert m.items[0].pred_valid == (False, True) and m.items[0].best == 1


def test_timeout_counts_as_non_match_and_is_reported():
    r = rms_distance(to_pymatgen(rocksalt()), to_pymatgen(rocksalt()), MatchConfig(timeout_s=1e-5))
    assert r.timed_out and not r.matched
    m = match_one_sample(
        [rocksalt()], [rocksalt()], MatchConfig(timeout_s=1e-5), n_workers=1, progress=False
    )
    assert m.n_timeouts == 1 and m.match_rate == 0.0 and m.items[0].timed_out == (True,)
    # The alarm is disarmed afterwards: a normal comparison still works.
    assert match_pair(rocksalt(), rocksalt()).matched


def _same_distances(a: list, b: list) -> bool:
    """Equal RMS lists: None (no match) in the same places, floats to float precision."""
    return len(a) == len(b) and all(
        (x is None and y is None)
        or (x is not None and y is not None and x == pytest.approx(y, rel=1e-6, abs=1e-9))
        for x, y in zip(a, b, strict=True)
    )


def test_parallel_equals_serial(mp20_test):
    gts = mp20_test[:8]
    cands = [[perturb(c, 0.05, seed=i), mp20_test[(i + 1) % 8]] for i, c in enumerate(gts)]
    # No wall-clock limit: on a loaded machine a timed-out comparison would be a non-match in one
    # run and a match in the other. The timeout path has its own test above.
    untimed = MatchConfig(timeout_s=0)
    ser = match_k_samples(cands, gts, untimed, n_workers=1, progress=False)
    par = match_k_samples(cands, gts, untimed, n_workers=2, progress=False)
    assert ser.n_timeouts == par.n_timeouts == 0
    # Worker processes may round the last bits of an RMS differently; the
    # verdicts must agree exactly and the distances to float precision.
    s, p = ser.to_dict(), par.to_dict()
    assert [it["matched"] for it in s["items"]] == [it["matched"] for it in p["items"]]
    assert [it["best_candidate"] for it in s["items"]] == [
        it["best_candidate"] for it in p["items"]
    ]
    for a, b in zip(s["items"], p["items"], strict=True):
        assert _same_distances(a["candidate_rms"], b["candidate_rms"]), (a, b)
    assert s["rmse"] == pytest.approx(p["rmse"], rel=1e-6)
    assert {k: v for k, v in s.items() if k not in ("items", "rmse")} == {
        k: v for k, v in p.items() if k not in ("items", "rmse")
    }
    # Every valid perturbed copy matches; the neighbouring structure never does.
    assert ser.n_matched == sum(it.pred_valid[0] for it in ser.items) >= 6
    assert all(it.best in (None, 0) for it in ser.items)


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="one entry"):
        match_one_sample([rocksalt()], [rocksalt(), rocksalt()], n_workers=1, progress=False)


def test_rms_is_normalised_by_volume_per_atom():
    """Scaling a crystal and its displacement together leaves the RMS unchanged."""
    gt = rocksalt(a=5.0)
    pred = perturb(gt, 0.05, seed=7, permute=False, shift=False)
    big_gt = type(gt)(gt.frac_coords, gt.atomic_numbers, gt.lattice * 2)
    big_pred = type(pred)(pred.frac_coords, pred.atomic_numbers, pred.lattice * 2)
    assert match_pair(big_pred, big_gt).rms == pytest.approx(match_pair(pred, gt).rms, rel=1e-6)
    assert np.isfinite(match_pair(pred, gt).rms)
