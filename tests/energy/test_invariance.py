"""The GNN's prediction does not depend on how a crystal is written down, nor on padding."""

from __future__ import annotations

import jraph
import numpy as np
import pytest

from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.energy.batching import FlatBatcher, to_graph
from genms.energy.graph import neighbor_tables
from genms.energy.predictor import GNNEnergyPredictor

ATOL = 2e-4  # eV/atom; float32 model, random weights


@pytest.fixture(scope="module")
def predictor(random_task):
    task, params = random_task
    return GNNEnergyPredictor(params, task.checkpoint_extras(), max_nodes_per_call=256)


@pytest.fixture(scope="module")
def base(random_task):
    task, _ = random_task
    return [task.splits["train"].crystal(i) for i in range(4)]


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _pred(predictor, crystals):
    return predictor.predict(crystals).e_form


def test_atom_order(predictor, base):
    rng = np.random.default_rng(1)
    perm = [Crystal(c.frac_coords[p], c.atomic_numbers[p], c.lattice) for c in base
            for p in [rng.permutation(c.n_atoms)]]
    np.testing.assert_allclose(_pred(predictor, perm), _pred(predictor, base), atol=ATOL)


def test_rotation_and_translation(predictor, base):
    moved = []
    for i, c in enumerate(base):
        rot = _rotation(i)
        shift = np.random.default_rng(i).uniform(size=3)
        moved.append(Crystal(c.frac_coords + shift, c.atomic_numbers, c.lattice @ rot.T))
    np.testing.assert_allclose(_pred(predictor, moved), _pred(predictor, base), atol=ATOL)


def test_supercell(predictor, base):
    sup = []
    for c in base:
        m = np.diag([2, 1, 1])
        cells = np.array([[0, 0, 0], [1, 0, 0]])
        frac = np.concatenate([(c.frac_coords + t) / np.array([2, 1, 1]) for t in cells])
        sup.append(Crystal(frac, np.tile(c.atomic_numbers, 2), m @ c.lattice))
    np.testing.assert_allclose(_pred(predictor, sup), _pred(predictor, base), atol=ATOL)


def test_equivalent_cell(predictor, base):
    """A different (skewed, unimodular) basis of the same lattice."""
    u = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]])  # det 1
    other = []
    for c in base:
        lat = u @ c.lattice
        frac = c.frac_coords @ np.linalg.inv(u)  # same cartesian positions
        other.append(Crystal(frac, c.atomic_numbers, lat))
    np.testing.assert_allclose(_pred(predictor, other), _pred(predictor, base), atol=ATOL)


def test_padding_and_batch_company(predictor, random_task, base):
    """Alone, in a batch, in a larger atoms bucket and through the flat path: same numbers."""
    task, params = random_task
    alone = np.array([_pred(predictor, [c])[0] for c in base])
    together = _pred(predictor, base)
    np.testing.assert_allclose(together, alone, atol=ATOL)
    # flat training layout with a much larger node budget and other graphs around
    arr = CrystalArrays.from_crystals(base, [str(i) for i in range(len(base))])

    tables = neighbor_tables(
        arr, task.cfg.model.cutoff, task.cfg.model.max_neighbors, task.cfg.model.taper
    )
    b = FlatBatcher(arr, tables, np.zeros(len(arr)), 256).batch([3, 2, 1, 0], 9)
    flat = np.asarray(task.predict(params, b)).mean(0)[:4][::-1]
    np.testing.assert_allclose(flat, together, atol=ATOL)
    # the flat path of the predictor itself (every cell above dense_max_atoms)
    flat_pred = GNNEnergyPredictor(
        params, task.checkpoint_extras(), dense_max_atoms=0, flat_nodes=64, flat_graphs=4
    )
    np.testing.assert_allclose(_pred(flat_pred, base), together, atol=ATOL)


def test_graph_is_jraph(random_task):
    task, _ = random_task
    g = to_graph(task.make_batch("train", [0, 1], 4))

    assert isinstance(g, jraph.GraphsTuple)
    assert int(np.sum(g.n_node)) == g.nodes["species"].shape[0]
    assert g.senders.shape == g.receivers.shape == g.edges["distance"].shape
