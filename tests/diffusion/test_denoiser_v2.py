"""π_lo v2: the periodic denoiser's symmetries, its geometry, the flow objective and sampler."""

from __future__ import annotations

import shutil
from dataclasses import replace

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from genms.diffusion.config import DiffusionConfig
from genms.diffusion.lattice import LatticeNormaliser
from genms.diffusion.sampler import load_sampler
from genms.diffusion.schedules import ScheduleConfig
from genms.diffusion.task import BucketedOrder, DiffusionTask
from genms.models.denoiser_v2 import PairValue, PeriodicDenoiser, PeriodicDenoiserConfig
from genms.models.periodic import lattice_matrix, nearest_image_distances, wrapped_differences
from genms.train.bundle import load_bundle, save_bundle
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig
from genms.train.loop import train

from .conftest import TINY_SAMPLER

TINY_V2 = PeriodicDenoiserConfig(
    width=32, depth=2, heads=4, pair_width=16, n_freq=3, n_rbf=8, mlp_expansion=2, time_embed_dim=32
)
TINY_FLOW = DiffusionConfig(
    schedule=ScheduleConfig(),
    process="flow",
    joint_fraction=0.25,
    sampling_steps=4,
    compute_dtype="float32",
)
NORM = LatticeNormaliser((0.9, 0.9, 1.1, 90.0, 90.0, 90.0), (0.2, 0.2, 0.25, 15.0, 15.0, 15.0))


@pytest.fixture(scope="module")
def model_and_params():
    model = PeriodicDenoiser(TINY_V2, NORM.mean, NORM.std, dtype=jnp.float32)
    b, n = 3, 6
    x = jnp.zeros((b, n, 4))
    params = model.init(
        jax.random.key(0),
        x,
        jnp.ones((b, n), jnp.int32),
        jnp.ones((b,), bool),
        jnp.zeros((b, 6)),
        jnp.zeros((b,)),
        jnp.ones((b, n), bool),
    )
    # Output layers start at zero; randomise every leaf so the symmetry tests are not trivial.
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    params = jax.tree.unflatten(
        tree, [0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    )
    return model, params


def _inputs(seed: int, b: int = 3, n: int = 6, n_real: int = 5):
    rng = np.random.default_rng(seed)
    frac = rng.random((b, n, 3)).astype(np.float32)
    types = rng.normal(size=(b, n, 1)).astype(np.float32)
    numbers = rng.integers(1, 80, (b, n)).astype(np.int32)
    mask = np.zeros((b, n), bool)
    mask[:, :n_real] = True
    frac[~mask] = 0.0
    types[~mask] = 0.0
    numbers[~mask] = 0
    lattice = rng.normal(size=(b, 6)).astype(np.float32)
    time = rng.random(b).astype(np.float32)
    given = np.array([True, False, True][:b])
    return np.concatenate([frac, types], -1), numbers, given, lattice, time, mask


def _apply(model_and_params, atom_x, numbers, given, lattice, time, mask):
    model, params = model_and_params
    return jax.tree.map(
        np.asarray,
        model.apply(
            params,
            jnp.asarray(atom_x),
            jnp.asarray(numbers),
            jnp.asarray(given),
            jnp.asarray(lattice),
            jnp.asarray(time),
            jnp.asarray(mask),
        ),
    )


def test_outputs_are_not_trivial(model_and_params):
    v_atoms, v_lat = _apply(model_and_params, *_inputs(0))
    assert np.abs(v_atoms).max() > 1e-3 and np.abs(v_lat).max() > 1e-3


def test_permutation_equivariant(model_and_params):
    atom_x, numbers, given, lattice, time, mask = _inputs(1)
    v_atoms, v_lat = _apply(model_and_params, atom_x, numbers, given, lattice, time, mask)
    perm = np.array([3, 0, 4, 1, 2, 5])  # real atoms shuffled, the padding slot kept last
    pv_atoms, pv_lat = _apply(
        model_and_params, atom_x[:, perm], numbers[:, perm], given, lattice, time, mask[:, perm]
    )
    np.testing.assert_allclose(pv_atoms, v_atoms[:, perm], atol=2e-4)
    np.testing.assert_allclose(pv_lat, v_lat, atol=2e-4)


def test_translation_invariant(model_and_params):
    atom_x, numbers, given, lattice, time, mask = _inputs(2)
    v_atoms, v_lat = _apply(model_and_params, atom_x, numbers, given, lattice, time, mask)
    shifted = atom_x.copy()
    shift = np.array([0.37, 0.81, 0.55], np.float32)
    shifted[..., :3] = np.where(mask[..., None], np.mod(atom_x[..., :3] + shift, 1.0), 0.0)
    s_atoms, s_lat = _apply(model_and_params, shifted, numbers, given, lattice, time, mask)
    np.testing.assert_allclose(s_atoms, v_atoms, atol=2e-4)
    np.testing.assert_allclose(s_lat, v_lat, atol=2e-4)


def test_coordinate_velocity_has_zero_mean(model_and_params):
    atom_x, numbers, given, lattice, time, mask = _inputs(3)
    v_atoms, _ = _apply(model_and_params, atom_x, numbers, given, lattice, time, mask)
    mean = (v_atoms[..., :3] * mask[..., None]).sum(1) / mask.sum(1)[:, None]
    np.testing.assert_allclose(mean, 0.0, atol=1e-5)


def test_padding_slots_change_nothing(model_and_params):
    atom_x, numbers, given, lattice, time, mask = _inputs(4, n=6, n_real=5)
    v_atoms, v_lat = _apply(model_and_params, atom_x, numbers, given, lattice, time, mask)
    pad = lambda a: np.concatenate([a, np.zeros_like(a[:, :3])], axis=1)  # noqa: E731 - three more empty slots
    p_atoms, p_lat = _apply(
        model_and_params, pad(atom_x), pad(numbers), given, lattice, time, pad(mask)
    )
    np.testing.assert_allclose(p_atoms[:, :6], v_atoms, atol=2e-4)
    np.testing.assert_allclose(p_atoms[:, 6:], 0.0)
    np.testing.assert_allclose(p_lat, v_lat, atol=2e-4)


@pytest.mark.parametrize("rows_sum_to_one", [True, False])
def test_pair_values_equal_a_dense_layer_on_every_pair(rows_sum_to_one):
    # PairValue sums the pair embeddings over keys before projecting them; the result must be
    # that of a dense layer applied to every pair and then weighted (its parameters, same shapes).
    b, n, p, heads, dim = 2, 5, 6, 3, 4
    rng = np.random.default_rng(0)
    e = jnp.asarray(rng.normal(size=(b, n, n, p)), jnp.float32)
    w = jnp.asarray(rng.random((b, heads, n, n)), jnp.float32)
    if rows_sum_to_one:
        w = jax.nn.softmax(w, axis=-1)  # else: like attention weights after dropout
    dense = nn.DenseGeneral((heads, dim))
    params = dense.init(jax.random.key(0), e)
    params = jax.tree.map(lambda a: a + 0.5, params)  # a non-zero bias as well
    reference = jnp.einsum("bhqk,bqkhd->bqhd", w, dense.apply(params, e))
    ours = PairValue(heads, dim, jnp.float32).apply(params, w, e)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(reference), rtol=1e-5, atol=1e-5)
    fresh = PairValue(heads, dim, jnp.float32).init(jax.random.key(1), w, e)
    assert jax.tree.map(np.shape, fresh) == jax.tree.map(np.shape, params)


def test_geometry_matches_pymatgen():
    params = np.array([[4.1, 5.3, 6.2, 75.0, 100.0, 110.0]], np.float32)
    frac = np.array([[[0.05, 0.1, 0.9], [0.95, 0.8, 0.15], [0.5, 0.45, 0.5]]], np.float32)
    mat = np.asarray(lattice_matrix(jnp.asarray(params)))[0]
    ref = Lattice.from_parameters(*params[0].tolist())
    np.testing.assert_allclose(mat @ mat.T, ref.matrix @ ref.matrix.T, rtol=1e-4, atol=1e-4)
    dist = np.asarray(
        nearest_image_distances(wrapped_differences(jnp.asarray(frac)), jnp.asarray(mat[None]))
    )[0]
    s = Structure(ref, ["Na", "Cl", "K"], frac[0])
    np.testing.assert_allclose(dist, s.distance_matrix, atol=1e-3)


def test_flow_task_loss_and_sampler(train_arrays, test_arrays, tmp_path):
    task = DiffusionTask(TINY_V2, TINY_FLOW, train_arrays, test_arrays)
    batch = task.make_batch("train", list(range(6)), 8)
    params = task.init(jax.random.key(0), batch)
    loss, parts = task.loss(params, batch, jax.random.key(1), True)
    assert np.isfinite(float(loss)) and float(loss) > 0
    assert {"coord_mse", "lattice_mse", "x0_frac_mae"} <= set(parts)
    # At initialisation the velocity is zero, so the coordinate loss is the target's variance (≈ 1).
    assert 0.5 < float(parts["coord_mse"]) < 1.5
    save_bundle(tmp_path / "b", params, task.checkpoint_extras())
    sampler = load_sampler(tmp_path / "b", TINY_SAMPLER)
    crystals = sampler.sample_cells([[11, 17], [8, 8, 22, 38, 8]], jax.random.key(0))
    assert [len(c.atomic_numbers) for c in crystals] == [2, 5]
    for c in crystals:
        assert np.all((c.frac_coords >= 0) & (c.frac_coords < 1)) and np.all(
            np.isfinite(c.lattice_params)
        )
    gen = sampler.generate([3], jax.random.key(1))
    assert len(gen[0].atomic_numbers) == 3


def test_mismatched_process_is_refused(train_arrays):
    with pytest.raises(ValueError, match="process"):
        DiffusionTask(TINY_V2, DiffusionConfig(process="ddpm"), train_arrays)


def test_bucketed_order_is_deterministic_and_covers_cells():
    n_atoms = np.array([4] * 40 + [30] * 17)
    order = BucketedOrder(n_atoms, (20, 52), 8, seed=3)
    assert order.steps_per_epoch == 5 + 2
    seen = [order.indices(s) for s in range(order.steps_per_epoch)]
    for idx in seen:  # one bucket per batch
        assert len({n_atoms[i] for i in idx}) == 1
    flat = [i for idx in seen for i in idx]
    assert len(set(flat)) == len(flat) == 40 + 16
    again = BucketedOrder(n_atoms, (20, 52), 8, seed=3)
    assert [again.indices(s) for s in range(order.steps_per_epoch)] == seen


def _train_v2(task, run_dir, steps, resume=False, init_from=None, seed=0):
    return train(
        task,
        TrainConfig(
            seed=seed,
            steps=steps,
            batch_size=8,
            ema_decay=0.9,
            log_every=2,
            eval_every=100,
            ckpt_every=2,
            keep=3,
            run_dir=str(run_dir),
            resume=resume,
            init_from=init_from,
        ),
        OptimConfig(lr=1e-3, warmup_steps=2),
        LoggerConfig(jsonl=True),
    )


@pytest.fixture(scope="module")
def bucketed_task(train_arrays):
    # Two training buckets (≤ 8 and ≤ 20 atoms), so resume must also restore the bucket order.
    return DiffusionTask(
        TINY_V2,
        replace(TINY_FLOW, max_atoms=20, train_buckets=(8,)),
        train_arrays.subset(range(24)),
    )


def test_v2_resume_is_exact(bucketed_task, tmp_path):
    straight = _train_v2(bucketed_task, tmp_path / "a", 4)  # checkpoints at steps 2 and 4
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "4")
    resumed = _train_v2(bucketed_task, tmp_path / "b", 4, resume=True)
    for x, y in zip(jax.tree.leaves((straight.params, straight.ema_params)),
                    jax.tree.leaves((resumed.params, resumed.ema_params)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_v2_warm_start_from_bundle(bucketed_task, tmp_path):
    # another initialisation than the runs below
    first = _train_v2(bucketed_task, tmp_path / "a", 2, seed=1)
    save_bundle(tmp_path / "bundle", first.ema_params, bucketed_task.checkpoint_extras())
    loaded, _ = load_bundle(tmp_path / "bundle")
    warm = _train_v2(bucketed_task, tmp_path / "warm", 1, init_from=str(tmp_path / "bundle"))
    # One warm-up step at a small learning rate moves the parameters only a little from the
    # bundle's.
    drift = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(warm.params), strict=True))
    fresh = _train_v2(bucketed_task, tmp_path / "fresh", 1)
    far = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
              for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(fresh.params), strict=True))
    assert drift < 1e-3 < far


def test_warm_start_refuses_another_network(bucketed_task, train_arrays, tmp_path):
    other = DiffusionTask(replace(TINY_V2, depth=1), TINY_FLOW, train_arrays.subset(range(8)))
    params = other.init(jax.random.key(0), other.make_batch("train", list(range(4)), 4))
    save_bundle(tmp_path / "other", params, other.checkpoint_extras())
    with pytest.raises(ValueError, match="different network"):
        _train_v2(bucketed_task, tmp_path / "run", 1, init_from=str(tmp_path / "other"))


def test_v2_flop_count_matches_xla(train_arrays, tmp_path):
    # Wide enough that matmuls dominate, as in the shipped model (there the two agree within 2 %);
    # XLA also counts the elementwise work, which weighs more in a tiny network.
    mid = PeriodicDenoiserConfig(
        width=128, depth=2, heads=4, pair_width=64, n_freq=4, n_rbf=16, time_embed_dim=32
    )
    task = DiffusionTask(mid, TINY_FLOW, train_arrays)
    params = task.init(jax.random.key(0), task.make_batch("train", list(range(4)), 4))
    save_bundle(tmp_path / "b", params, task.checkpoint_extras())
    sampler = load_sampler(tmp_path / "b", TINY_SAMPLER)
    analytic, xla = sampler.forward_flops(12, 4), sampler.xla_forward_flops(12, 4)
    assert abs(analytic - xla) / xla < 0.05, (analytic, xla)
