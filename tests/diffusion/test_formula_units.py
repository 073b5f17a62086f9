"""The data-driven formula-unit (Z) prior."""

from __future__ import annotations

import numpy as np
import pytest

from genms.diffusion.formula_units import FormulaUnitPrior, composition_key

SR, TI, OX, NA, CL, K, BA = 38, 22, 8, 11, 17, 19, 56


def _cells():
    srtio3 = [SR, TI, OX, OX, OX]
    cells = [srtio3] * 6 + [srtio3 * 2] * 2 + [srtio3 * 4] * 2  # SrTiO3: Z = 1 (6), 2 (2), 4 (2)
    cells += [[BA, TI, OX, OX, OX] * 2] * 5  # another ABC3: Z = 2 only
    cells += [[NA, CL] * 4] * 3  # NaCl: Z = 4
    return cells


def test_composition_key():
    reduced, z = composition_key([OX, SR, OX, TI, OX] * 2)
    assert reduced == ((OX, 3), (TI, 1), (SR, 1)) and z == 2


def test_exact_level_distribution():
    prior = FormulaUnitPrior.fit(_cells(), max_atoms=20, min_count=5)
    zs, p, level = prior.distribution(((OX, 3), (TI, 1), (SR, 1)))
    assert level == "exact"
    np.testing.assert_array_equal(zs, [1, 2, 4])
    np.testing.assert_allclose(p, [0.6, 0.2, 0.2])


def test_backs_off_to_anonymous_formula():
    prior = FormulaUnitPrior.fit(_cells(), max_atoms=20, min_count=5)
    # KTiO3 was never seen: its anonymous formula ABC3 was (10 SrTiO3 + 5 BaTiO3 cells).
    zs, p, level = prior.distribution(((OX, 3), (K, 1), (TI, 1)))
    assert level == "anonymous"
    assert dict(zip(zs.tolist(), p.tolist(), strict=True)) == pytest.approx(
        {1: 6 / 15, 2: 7 / 15, 4: 2 / 15}
    )


def test_max_atoms_and_global_fallback():
    prior = FormulaUnitPrior.fit(_cells(), max_atoms=10, min_count=5)
    zs, _, _ = prior.distribution(((OX, 3), (TI, 1), (SR, 1)))
    assert zs.max() * 5 <= 10
    zs, p, level = prior.distribution(((NA, 1), (CL, 2), (K, 4)))  # 7 atoms per unit: never seen
    assert level == "global" and zs.tolist() == [1] and p[0] == 1.0
    with pytest.raises(ValueError, match="more than the model"):
        prior.distribution(((NA, 11),))


def test_choose_and_round_trip():
    prior = FormulaUnitPrior.fit(_cells(), max_atoms=20)
    again = FormulaUnitPrior.from_dict(prior.to_dict())
    assert again.exact == prior.exact and again.fu_size == prior.fu_size
    draws = again.choose([SR, TI, OX, OX, OX], 2000, np.random.default_rng(0))
    assert set(draws.tolist()) <= {1, 2, 4}
    assert abs(np.mean(draws == 1) - 0.6) < 0.05
