"""The device neighbour builder against the numpy reference, and its completeness rule."""

from __future__ import annotations

import numpy as np

from genms.energy.graph import (
    build_neighbors,
    neighbor_list_reference,
    neighbor_tables,
    shift_range,
    shift_vectors,
)

CUT, K, TAPER = 5.0, 16, 0.5


def _sorted(a):
    return np.sort(np.asarray(a), axis=1)


def test_device_builder_matches_reference(cgcnn_arrays):
    rows = np.flatnonzero(cgcnn_arrays.n_atoms <= 12)[:10]
    arr = cgcnn_arrays.subset(rows)
    tables = neighbor_tables(arr, CUT, K, TAPER)
    o = arr.offsets
    for i in range(len(arr)):
        _, d, w = neighbor_list_reference(
            arr.frac_coords[o[i] : o[i + 1]], arr.lattice[i], CUT, K, TAPER
        )
        np.testing.assert_allclose(_sorted(tables.distance[o[i] : o[i + 1]]), _sorted(d), atol=2e-4)
        np.testing.assert_allclose(_sorted(tables.weight[o[i] : o[i + 1]]), _sorted(w), atol=2e-4)
    assert tables.weight.min() >= 0.0 and tables.weight.max() <= 1.0
    assert (tables.weight.sum(1) > 0).all()  # every atom of a real crystal has neighbours


def test_shift_range_holds_every_image_within_cutoff():
    rng = np.random.default_rng(0)
    for _ in range(20):
        lat = rng.normal(size=(3, 3)) * 2.0 + np.eye(3) * rng.uniform(2.5, 6.0)
        if abs(np.linalg.det(lat)) < 5.0:
            continue
        r = int(shift_range(lat, CUT))
        frac = rng.uniform(size=(2, 3))
        delta = frac[1] - frac[0]
        delta -= np.round(delta)
        big = np.arange(-r - 3, r + 4)
        s = np.stack(np.meshgrid(big, big, big, indexing="ij"), -1).reshape(-1, 3)
        d = np.linalg.norm((delta + s) @ lat, axis=1)
        inside = s[d < CUT]
        assert np.abs(inside).max(initial=0) <= r


def test_shift_vectors_zero_first_and_complete():
    s = shift_vectors(2)
    assert s.shape == (125, 3) and not s[0].any()
    assert len({tuple(v) for v in s.tolist()}) == 125


def test_padding_atoms_get_no_edges(cgcnn_arrays):
    c = cgcnn_arrays.crystal(int(np.argmin(cgcnn_arrays.n_atoms)))
    n = c.n_atoms
    frac = np.zeros((1, n + 3, 3), np.float32)
    frac[0, :n] = c.frac_coords
    mask = np.zeros((1, n + 3), bool)
    mask[0, :n] = True
    idx, d, w = build_neighbors(
        frac, c.lattice[None].astype(np.float32), mask, r=2, k=K, cutoff=CUT, taper=TAPER
    )
    w = np.asarray(w)
    assert (w[0, n:] == 0).all()
    assert (np.asarray(idx)[0, :n][w[0, :n] > 0] < n).all()  # neighbours are real atoms only


def test_few_candidates_are_padded():
    # one atom, tiny shift set: fewer candidates (26) than K + 1 must still work
    frac = np.zeros((1, 1, 3), np.float32)
    lat = (np.eye(3) * 3.0)[None].astype(np.float32)
    mask = np.ones((1, 1), bool)
    _, d, w = build_neighbors(frac, lat, mask, r=1, k=30, cutoff=CUT, taper=TAPER)
    d, w = np.asarray(d)[0, 0], np.asarray(w)[0, 0]
    assert (w > 0).sum() == 18  # 6 at 3 Å and 12 at 4.24 Å lie within 5 Å
    np.testing.assert_allclose(np.sort(d[w > 0])[:6], 3.0, atol=1e-5)
