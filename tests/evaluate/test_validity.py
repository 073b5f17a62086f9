"""Structural, composition and CIF validity on hand-made cases and real fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genms.crystal.composition import atomic_numbers_for
from genms.crystal.convert import from_cif, to_cif, to_pymatgen
from genms.crystal.structure import Crystal
from genms.evaluate.validity import (
    ValidityConfig,
    build_structure,
    check_many,
    check_validity,
    cif_valid,
    parse_cif,
    validity_fractions,
)
from tests.evaluate.handmade_crystals import SHARED_DATA, perovskite, rocksalt, z


def test_rocksalt_is_valid():
    v = check_validity(rocksalt())
    assert v.constructed and v.struct_valid and v.comp_valid and v.valid
    assert v.reason == ""
    assert v.min_distance == pytest.approx(5.64 / 2)
    assert v.volume == pytest.approx(5.64**3)


def test_two_atoms_0p3_angstrom_apart_are_structurally_invalid():
    c = Crystal([[0, 0, 0], [0.3 / 5.0, 0, 0]], [z("Na"), z("Cl")], np.eye(3) * 5.0)
    v = check_validity(c)
    assert v.constructed and not v.struct_valid and not v.valid
    assert v.comp_valid  # NaCl is still charge balanced
    assert v.min_distance == pytest.approx(0.3)
    assert v.reason == "short_distance"
    # Across the periodic boundary counts too (minimum image).
    c2 = Crystal([[0.02, 0.5, 0.5], [0.98, 0.5, 0.5]], [z("Na"), z("Cl")], np.eye(3) * 5.0)
    assert check_validity(c2).min_distance == pytest.approx(0.2)
    assert not check_validity(c2).struct_valid


def test_distance_cutoff_is_inclusive_and_configurable():
    c = Crystal([[0, 0, 0], [0.1, 0, 0]], [z("Na"), z("Cl")], np.eye(3) * 6.0)  # 0.6 Å
    assert check_validity(c).struct_valid
    assert not check_validity(c, ValidityConfig(distance_cutoff=0.7)).struct_valid


def test_minimum_image_ignores_self_images_but_periodic_does_not():
    """DiffCSP's distance_matrix never compares an atom with its own image; the exact metric
    does."""
    c = Crystal([[0, 0, 0]], [z("Cu")], np.diag([0.4, 6.0, 6.0]))
    assert check_validity(c).struct_valid  # DiffCSP convention: a single site has no pairs
    exact = check_validity(c, ValidityConfig(distance_method="periodic"))
    assert exact.min_distance == pytest.approx(0.4)
    assert not exact.struct_valid


def test_small_volume_nan_and_non_positive_lengths_fail_construction():
    tiny = Crystal([[0, 0, 0]], [z("Cu")], np.eye(3) * 0.4)  # 0.064 Å^3
    assert check_validity(tiny).reason == "unrealistically_small_lattice"
    base = {"frac_coords": np.zeros((2, 3)), "atom_types": np.array([11, 17])}
    nan = check_validity({**base, "frac_coords": np.array([[0, 0, 0], [np.nan, 0, 0]]),
                          "lengths": np.array([4.0, 4, 4]), "angles": np.array([90.0, 90, 90])})
    assert (nan.constructed, nan.reason) == (False, "nan_value")
    assert nan.comp_valid  # composition is judged on the atom types regardless
    neg = check_validity(
        {**base, "lengths": np.array([-4.0, 4, 4]), "angles": np.array([90.0, 90, 90])}
    )
    assert (neg.struct_valid, neg.reason) == (False, "non_positive_lattice")
    assert check_validity(None).reason == "missing"
    assert not check_validity(None).valid


def test_diffcsp_dict_with_one_hot_types_and_lengths_angles():
    one_hot = np.zeros((2, 100))
    one_hot[0, 10] = 1.0  # Na (argmax + 1 = 11)
    one_hot[1, 16] = 1.0  # Cl
    d = {"frac_coords": np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), "atom_types": one_hot,
         "lengths": np.array([3.99, 3.99, 3.99]), "angles": np.array([60.0, 60, 60])}
    structure, numbers, reason = build_structure(d)
    assert reason == "" and list(numbers) == [11, 17]
    assert structure.composition.reduced_formula == "NaCl"
    assert check_validity(d).valid


@pytest.mark.parametrize(("formula", "valid"), [
    ("NaCl", True), ("SrTiO3", True), ("NaCl2", False), ("CuZn", True), ("Si", True),
])
def test_composition_validity(formula, valid):
    numbers = atomic_numbers_for(formula)
    c = Crystal(np.random.default_rng(0).random((len(numbers), 3)), numbers, np.eye(3) * 8.0)
    v = check_validity(c)
    assert v.comp_valid is valid
    if not valid and v.struct_valid:
        assert v.reason == "charge_imbalance"


def test_cif_validity_of_good_and_corrupted_text(mp20_test):
    good = to_cif(perovskite())
    assert cif_valid(good)
    crystal, err = parse_cif(good)
    assert err == "" and crystal.n_atoms == 5
    assert not cif_valid("data_broken\n_cell_length_a 4.0\nloop_\n_atom_site_label\nX1 nonsense\n")
    assert not cif_valid(good[: len(good) // 2])  # truncated mid-way through the atom loop
    assert not cif_valid("")
    bad, err = parse_cif("not a cif at all")
    assert bad is None and "could not parse CIF" in err


def test_real_structures_are_structurally_valid_and_pymatgen_agrees(mp20_test):
    results = check_many(mp20_test, n_workers=1, progress=False)
    assert all(r.struct_valid for r in results)
    fr = validity_fractions(results)
    assert fr["struct_valid"] == 1.0 and 0.7 < fr["comp_valid"] <= 1.0
    for c, r in zip(mp20_test[:5], results[:5], strict=True):
        d = to_pymatgen(c).distance_matrix + np.eye(c.n_atoms) * 1e9
        assert r.min_distance == pytest.approx(d.min())


def test_check_many_parallel_equals_serial(mp20_test):
    items = [*mp20_test[:12], None, rocksalt()]
    par = check_many(items, n_workers=2, progress=False)
    ser = check_many(items, n_workers=1, progress=False)
    assert [v.to_dict() for v in par] == [v.to_dict() for v in ser]
    assert [v.valid for v in ser][-2:] == [False, True]


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_DATA / "mp_20_partial").is_dir(), reason="needs ../shared/data")
def test_mp20_test_split_structural_validity_is_total():
    df = pd.read_csv(SHARED_DATA / "mp_20_partial" / "test.csv", nrows=150)
    crystals = [from_cif(t) for t in df["cif"]]
    fr = validity_fractions(check_many(crystals, n_workers=2, progress=False))
    assert fr["struct_valid"] == 1.0
    assert fr["comp_valid"] > 0.8  # most MP-20 entries pass SMACT; some intermetallics do not
