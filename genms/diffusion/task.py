"""``DiffusionTask``: the denoiser's training objective for the shared loop (``genms.train``).

Each example is one crystal padded to ``max_atoms`` slots: fractional coordinates, atomic
numbers, mask and the normalised lattice features (``genms.diffusion.lattice``). The loss is
the paper's ε-prediction MSE at a continuous time t ~ U(0, 1) (stratified over the batch) on
the cosine log-SNR schedule, averaged per crystal over its coordinate channels, plus the
lattice token's ε error and, for the ``joint_fraction`` of crystals whose types are diffused,
the atomic-number channel's ε error.
"""

from __future__ import annotations

import logging

import jax
import jax.numpy as jnp
import numpy as np

from genms.data.arrays import CrystalArrays
from genms.diffusion import flow
from genms.diffusion.bundle import DiffusionBundle, bundle_extras
from genms.diffusion.config import DiffusionConfig
from genms.diffusion.formula_units import FormulaUnitPrior
from genms.diffusion.inputs import densify, encode_atomic_numbers
from genms.diffusion.lattice import LatticeNormaliser
from genms.diffusion.schedules import alpha_sigma, logsnr_schedule, predict_x0
from genms.diffusion.torus import coord_channels, decode_frac, encode_frac, torus_delta
from genms.models.denoiser import Denoiser
from genms.models.denoiser_v2 import PeriodicDenoiser
from genms.models.denoisers import AnyDenoiserConfig, check_pairing
from genms.models.dtypes import COMPUTE_NAMES, parse_dtype

log = logging.getLogger(__name__)


def drop_large(arrays: CrystalArrays, max_atoms: int, name: str) -> CrystalArrays:
    keep = np.flatnonzero(arrays.n_atoms <= max_atoms)
    if keep.size < len(arrays):
        log.warning(
            "%s: dropping %d of %d cells with more than %d atoms",
            name,
            len(arrays) - keep.size,
            len(arrays),
            max_atoms,
        )
        arrays = arrays.subset(keep)
    return arrays


class DiffusionTask:
    """Formula-conditioned crystal diffusion (π_lo) as a :class:`genms.train.task.Task`."""

    name = "diffusion"

    def __init__(
        self,
        model_cfg: AnyDenoiserConfig,
        diff_cfg: DiffusionConfig,
        train: CrystalArrays,
        val: CrystalArrays | None = None,
        z_prior_min_count: int = 5,
    ) -> None:
        check_pairing(model_cfg, diff_cfg.process)
        self.model_cfg, self.cfg = model_cfg, diff_cfg
        train = drop_large(train, diff_cfg.max_atoms, "train")
        if len(train) < 2:
            raise ValueError("the training split needs at least 2 crystals")
        self.normaliser = LatticeNormaliser.fit(train.lattice_params, train.n_atoms)
        self.z_prior = FormulaUnitPrior.fit(
            (
                train.atomic_numbers[s:e]
                for s, e in zip(train.offsets[:-1], train.offsets[1:], strict=True)
            ),
            diff_cfg.max_atoms,
            z_prior_min_count,
        )
        self.splits = {"train": densify(train, diff_cfg.max_atoms, self.normaliser)}
        if val is not None and len(val):
            val = drop_large(val, diff_cfg.max_atoms, "val")
            self.splits["val"] = densify(val, diff_cfg.max_atoms, self.normaliser)
        self.data_info = {
            "train": {"n": len(train), "meta": _short_meta(train.meta)},
            "val": {
                "n": 0 if val is None else len(val),
                "meta": _short_meta(val.meta) if val is not None else {},
            },
        }
        self.model = build_denoiser(model_cfg, diff_cfg, self.normaliser)
        self.buckets = training_buckets(diff_cfg)
        self.n_atoms = {name: split.mask.sum(-1) for name, split in self.splits.items()}

    # -- Task protocol -------------------------------------------------------------------------
    def num_examples(self, split: str) -> int:
        return len(self.splits[split]) if split in self.splits else 0

    def make_batch(self, split: str, indices, batch_size: int) -> dict:
        data = self.splits[split]
        idx = np.asarray(indices, np.int64)
        if idx.size > batch_size:
            raise ValueError(f"{idx.size} indices do not fit a batch of {batch_size}")
        pad = batch_size - idx.size
        take = np.concatenate([idx, np.zeros(pad, np.int64)])  # padded rows repeat row 0, weight 0
        # Slots: the smallest training bucket that holds the batch's largest cell.
        largest = int(self.n_atoms[split][idx].max()) if idx.size else 1
        slots = next(b for b in self.buckets if b >= largest)
        return {
            "frac": data.frac[take, :slots],
            "numbers": data.numbers[take, :slots],
            "mask": data.mask[take, :slots],
            "lattice": data.lattice[take],
            "weight": np.concatenate([np.ones(idx.size, np.float32), np.zeros(pad, np.float32)]),
        }

    def batch_order(self, batch_size: int, seed: int) -> BucketedOrder:
        """Batches drawn within one atom-count bucket each (see :class:`BucketedOrder`)."""
        return BucketedOrder(
            self.n_atoms["train"], self.buckets, batch_size, seed, self.cfg.train_bucket_fraction
        )

    def init(self, key: jax.Array, batch: dict):
        b = batch["mask"].shape[0]
        c = atom_channels(self.cfg)
        return self.model.init(
            {"params": key}, jnp.zeros(batch["mask"].shape + (c,)), batch["numbers"],
            jnp.ones((b,), bool), batch["lattice"], jnp.zeros((b,)), batch["mask"], train=False,
        )

    def loss(self, params, batch: dict, key: jax.Array, train: bool):
        per_crystal, parts = self._per_crystal(params, batch, key, train)
        w = batch["weight"]
        denom = jnp.maximum(w.sum(), 1.0)
        metrics = {k: (v * w).sum() / denom for k, v in parts.items()}
        return (per_crystal * w).sum() / denom, metrics

    def eval_metrics(self, params, batch: dict, key: jax.Array) -> dict:
        per_crystal, parts = self._per_crystal(params, batch, key, False)
        w = batch["weight"]
        return {"loss": (per_crystal * w).sum(), **{k: (v * w).sum() for k, v in parts.items()},
                "count": w.sum()}

    def checkpoint_extras(self) -> dict:
        return bundle_extras(self.model_cfg, self.cfg, self.normaliser, self.z_prior,
                             self.data_info)

    def bundle(self, params) -> DiffusionBundle:
        """``params`` of this task's model as a bundle (no training record)."""
        return DiffusionBundle(params, self.model_cfg, self.cfg, self.normaliser, self.z_prior,
                               data=self.data_info)

    # -- the objective -------------------------------------------------------------------------
    def _per_crystal(self, params, batch: dict, key: jax.Array, train: bool):
        if self.cfg.process == "flow":
            k_flow, k_drop = jax.random.split(key)

            def apply(atom_x, given, type_given, lattice_x, time):
                return self.model.apply(
                    params,
                    atom_x,
                    given,
                    type_given,
                    lattice_x,
                    time,
                    batch["mask"],
                    train=train,
                    rngs={"dropout": k_drop},
                )

            return flow.objective(
                apply, batch, encode_atomic_numbers(batch["numbers"])[..., None], k_flow, self.cfg
            )
        return self._ddpm_per_crystal(params, batch, key, train)

    def _ddpm_per_crystal(self, params, batch: dict, key: jax.Array, train: bool):
        cfg = self.cfg
        mask = batch["mask"]
        b = mask.shape[0]
        k_t, k_eps, k_lat, k_joint, k_drop = jax.random.split(key, 5)
        # Stratified times: one uniform offset, b evenly spaced strata (lower-variance loss).
        t = jnp.mod(jax.random.uniform(k_t) + jnp.arange(b) / b, 1.0)
        logsnr = logsnr_schedule(t, cfg.schedule)
        alpha, sigma = alpha_sigma(logsnr)
        x_type = encode_atomic_numbers(batch["numbers"])[..., None]
        x_atoms = jnp.concatenate([encode_frac(batch["frac"], cfg.coords), x_type], axis=-1)
        eps = jax.random.normal(k_eps, x_atoms.shape)
        z_atoms = alpha[:, None, None] * x_atoms + sigma[:, None, None] * eps
        joint = jax.random.bernoulli(k_joint, cfg.joint_fraction, (b,))
        # Conditioned crystals see the clean atomic-number channel; joint ones its noisy version.
        z_atoms = z_atoms.at[..., -1:].set(
            jnp.where(joint[:, None, None], z_atoms[..., -1:], x_type)
        )
        z_atoms = jnp.where(mask[..., None], z_atoms, 0.0)
        eps_lat = jax.random.normal(k_lat, batch["lattice"].shape)
        z_lat = alpha[:, None] * batch["lattice"] + sigma[:, None] * eps_lat
        given = jnp.where(joint[:, None], 0, batch["numbers"])
        eps_atoms_hat, eps_lat_hat = self.model.apply(
            params,
            z_atoms,
            given,
            ~joint,
            z_lat,
            logsnr,
            mask,
            train=train,
            rngs={"dropout": k_drop},
        )

        m = mask.astype(jnp.float32)
        n_atoms = jnp.maximum(m.sum(-1), 1.0)
        err = (eps_atoms_hat - eps) ** 2
        cc = x_atoms.shape[-1] - 1
        coord_mse = (err[..., :cc].sum(-1) * m).sum(-1) / (n_atoms * cc)
        type_mse = (err[..., -1] * m).sum(-1) / n_atoms
        lat_mse = ((eps_lat_hat - eps_lat) ** 2).mean(-1)
        jf = joint.astype(jnp.float32)
        per_crystal = coord_mse + cfg.lattice_weight * lat_mse + cfg.type_weight * jf * type_mse
        # Comparable across coordinate encodings: error of the implied clean coordinates,
        # in fractional units on the torus, and of the clean lattice features.
        x0 = predict_x0(z_atoms[..., :cc], eps_atoms_hat[..., :cc], logsnr[:, None, None])
        frac_err = jnp.abs(torus_delta(decode_frac(x0, cfg.coords), batch["frac"]))
        x0_lat = predict_x0(z_lat, eps_lat_hat, logsnr[:, None])
        parts = {
            "coord_mse": coord_mse,
            "lattice_mse": lat_mse,
            "type_mse_joint": jf * type_mse,
            "joint_fraction": jf,
            "x0_frac_mae": (frac_err.sum(-1) * m).sum(-1) / (3 * n_atoms),
            "x0_lattice_mae": jnp.abs(x0_lat - batch["lattice"]).mean(-1),
        }
        return per_crystal, parts


def atom_channels(diff_cfg: DiffusionConfig) -> int:
    """Channels of an atom token: coordinates (3 fractional for flow, else the encoding) + type."""
    return (3 if diff_cfg.process == "flow" else coord_channels(diff_cfg.coords)) + 1


def build_denoiser(
    model_cfg: AnyDenoiserConfig,
    diff_cfg: DiffusionConfig,
    normaliser: LatticeNormaliser,
    compute_dtype: str | None = None,
) -> Denoiser | PeriodicDenoiser:
    check_pairing(model_cfg, diff_cfg.process)
    dtype = parse_dtype(compute_dtype or diff_cfg.compute_dtype, COMPUTE_NAMES, "compute dtype")
    if model_cfg.arch == "periodic":
        return PeriodicDenoiser(model_cfg, normaliser.mean, normaliser.std, dtype=dtype)
    return Denoiser(model_cfg, atom_channels(diff_cfg), dtype=dtype)


def training_buckets(diff_cfg: DiffusionConfig) -> tuple[int, ...]:
    """Atom-slot sizes of training batches: ``diffusion.train_buckets`` below max_atoms, then
    max_atoms."""
    small = sorted({int(b) for b in diff_cfg.train_buckets if 0 < int(b) < diff_cfg.max_atoms})
    return (*small, int(diff_cfg.max_atoms))


class BucketedOrder:
    """Deterministic batches that each hold cells of one atom-count bucket.

    Per epoch, every bucket's cells are permuted (seeded by ``(seed, epoch, bucket)``) and cut
    into full batches, of which the bucket's ``fraction`` is kept, and the batches of all
    buckets are shuffled together (seeded by ``(seed, epoch)``): with fractions of 1 every cell
    is seen about once per epoch; a fraction below 1 shows a bucket's cells less often (large
    cells cost quadratically more). A small cell is never padded to the largest bucket. The
    batch of step ``s`` depends only on ``(seed, s)``.
    """

    def __init__(self, n_atoms: np.ndarray, buckets: tuple[int, ...], batch_size: int, seed: int,
                 fractions: tuple[float, ...] = ()) -> None:
        n_atoms = np.asarray(n_atoms)
        edges = np.searchsorted(np.asarray(buckets), n_atoms)  # bucket index of each cell
        self.members = [np.flatnonzero(edges == i) for i in range(len(buckets))]
        self.batch_size, self.seed = batch_size, seed
        fractions = tuple(fractions) or (1.0,) * len(buckets)
        if len(fractions) != len(buckets):
            raise ValueError(
                f"{len(fractions)} bucket fractions for {len(buckets)} training buckets {buckets}"
            )
        counts = [
            max(int(round(f * (len(m) // batch_size))), 1)
            if len(m) >= batch_size
            else int(len(m) > 0)
            for m, f in zip(self.members, fractions, strict=True)
        ]
        self.steps_per_epoch = max(sum(counts), 1)
        self._counts = counts
        self._cache: tuple[int, list[np.ndarray]] | None = None

    def _epoch(self, epoch: int) -> list[np.ndarray]:
        batches = []
        for b, (members, count) in enumerate(zip(self.members, self._counts, strict=True)):
            perm = members[np.random.default_rng([self.seed, epoch, b]).permutation(len(members))]
            batches += [perm[i * self.batch_size:(i + 1) * self.batch_size] for i in range(count)]
        order = np.random.default_rng([self.seed, epoch]).permutation(len(batches))
        return [batches[i] for i in order]

    def indices(self, step: int) -> list[int]:
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            self._cache = (epoch, self._epoch(epoch))
        return self._cache[1][i].tolist()


def _short_meta(meta: dict) -> dict:
    keep = ("dataset", "split", "fingerprint", "source", "n", "max_atoms")
    return {k: meta[k] for k in keep if k in meta}
