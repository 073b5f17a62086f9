"""Lattice-token features: fitted on training data, invertible."""

from __future__ import annotations

import numpy as np

from genms.diffusion.lattice import (
    MIN_VOLUME_FACTOR,
    LatticeNormaliser,
    shrink_to_valid_angles,
    volume_factor,
)


def test_fit_encode_decode_round_trip(train_arrays):
    params, n = train_arrays.lattice_params, train_arrays.n_atoms
    norm = LatticeNormaliser.fit(params, n)
    feats = norm.encode(params, n)
    np.testing.assert_allclose(feats.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(feats.std(0), 1.0, atol=1e-3)
    back = norm.decode(feats, n)
    np.testing.assert_allclose(back, params, rtol=1e-4, atol=1e-3)
    again = LatticeNormaliser.from_dict(norm.to_dict())
    assert again == norm


def test_decode_always_gives_a_cell():
    norm = LatticeNormaliser((0.0,) * 6, (1.0, 1.0, 1.0, 30.0, 30.0, 30.0))
    out = norm.decode(np.array([[50.0, -50.0, 0.0, 90.0, -90.0, 3.0]]), np.array([4]))
    assert np.all(np.isfinite(out)) and np.all(out[:, :3] > 0)
    assert np.all((out[:, 3:] >= 30.0) & (out[:, 3:] <= 150.0))


def test_impossible_angle_triples_are_repaired():
    angles = np.array(
        [[150.0, 150.0, 150.0], [30.0, 30.0, 100.0], [90.0, 90.0, 90.0], [60.0, 60.0, 60.0]]
    )
    fixed = shrink_to_valid_angles(angles)
    assert np.all(volume_factor(fixed) >= MIN_VOLUME_FACTOR)
    np.testing.assert_allclose(fixed[2:], angles[2:])  # valid triples are untouched
