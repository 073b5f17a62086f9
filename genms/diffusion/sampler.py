"""Batched ancestral sampling for π_lo, and the ``StructureSampler`` the search uses.

The reverse process runs inside one ``jax.jit`` as a ``lax.scan`` over the steps: no host
round-trip per step. Requests are grouped into padding buckets by atom count; each bucket runs
in batches whose size is a power of two (capped by a token budget), so a bucket compiles once
per batch size and repeated calls reuse the compiled program (:attr:`DiffusionSampler.traces`
counts traces).

* :meth:`DiffusionSampler.sample` — formulae -> ``n`` crystals each (``StructureSampler``
  protocol); Z explicit or drawn from the bundle's formula-unit prior.
* :meth:`DiffusionSampler.sample_structures` — the same as pymatgen ``Structure`` objects.
* :meth:`DiffusionSampler.sample_cells` — one crystal per given list of atomic numbers (CSP).
* :meth:`DiffusionSampler.generate` — atom types generated through the continuous channel.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from genms.crystal.composition import atomic_numbers_for, check_cell_size
from genms.crystal.convert import to_pymatgen
from genms.crystal.structure import Crystal
from genms.diffusion import flow
from genms.diffusion.bundle import DiffusionBundle
from genms.diffusion.config import SamplerConfig
from genms.diffusion.inputs import decode_atomic_numbers, encode_atomic_numbers, pad_cells
from genms.diffusion.schedules import ancestral_step, logsnr_schedule, predict_x0, time_grid
from genms.diffusion.task import atom_channels, build_denoiser
from genms.diffusion.torus import decode_frac, project_x0
from genms.models import denoiser_v2
from genms.paths import MODELS_DIR
from genms.progress import report

log = logging.getLogger(__name__)

#: Predicted clean lattice features (standardised) are clipped to ± this during sampling.
LATTICE_X0_CLIP = 8.0


def default_bundle_path() -> Path:
    return MODELS_DIR / "denoiser"


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def _pow2_at_most(n: int) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(n, 1)))))


class DiffusionSampler:
    """A loaded denoiser plus everything needed to turn formulae into crystals."""

    def __init__(self, bundle: DiffusionBundle, cfg: SamplerConfig | None = None) -> None:
        self.cfg = cfg or SamplerConfig()
        self.bundle = bundle
        self.model_cfg, self.diff_cfg = bundle.model, bundle.diffusion
        self.normaliser, self.z_prior = bundle.normaliser, bundle.z_prior
        self.steps = int(self.cfg.steps or self.diff_cfg.sampling_steps)
        self.gamma = float(self.diff_cfg.gamma if self.cfg.gamma is None else self.cfg.gamma)

        def pick(name: str):  # the sampler setting, else the bundle's default
            given = getattr(self.cfg, name)
            return getattr(self.diff_cfg, name) if given is None else given

        self.integrator = str(pick("integrator"))
        self.anneal_coords = float(pick("anneal_coords"))
        self.anneal_lattice = float(pick("anneal_lattice"))
        self.anneal_cap = bool(pick("anneal_cap"))
        self.churn = float(pick("churn"))
        self.churn_until = float(pick("churn_until"))
        if self.steps < 1:
            raise ValueError("sampling needs at least 1 step")
        self.model = build_denoiser(
            self.model_cfg, self.diff_cfg, self.normaliser, self.cfg.compute_dtype
        )
        self.params = jax.device_put(
            jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), bundle.params))
        self.coord_channels = atom_channels(self.diff_cfg) - 1
        self._compiled: dict[tuple[int, int], object] = {}
        self.traces = 0  # total traces of the compiled sampler (tests check it stays bounded)
        self.trace_shapes: dict[tuple[int, int], int] = {}  # (batch, bucket) -> times traced
        self._jitted = jax.jit(self._sample_batch)
        # One jitted network call: Heun's two evaluations per step reuse one trace and lowering.
        self._velocity = jax.jit(self._flow_velocity)

    # -- the compiled reverse process ------------------------------------------------------------
    def _sample_batch(self, params, numbers, mask, type_given, key):
        """numbers int32[B, N] (0 = generate), mask bool[B, N], type_given bool[B] -> (atoms,
        lattice)."""
        b, n = mask.shape
        self.traces += 1  # runs at trace time only
        self.trace_shapes[(b, n)] = self.trace_shapes.get((b, n), 0) + 1
        if self.diff_cfg.process == "flow":
            return self._flow_batch(params, numbers, mask, type_given, key)
        cc, steps = self.coord_channels, self.steps
        k_init, k_lat, k_loop = jax.random.split(key, 3)
        x_type = encode_atomic_numbers(numbers)[..., None]
        fix_type = type_given[:, None, None]
        given = jnp.where(type_given[:, None], numbers, 0)
        z_atoms = jax.random.normal(k_init, (b, n, cc + 1))
        z_atoms = jnp.where(mask[..., None], z_atoms.at[..., -1:].set(
            jnp.where(fix_type, x_type, z_atoms[..., -1:])), 0.0)
        z_lat = jax.random.normal(k_lat, (b, 6))
        logsnrs = logsnr_schedule(time_grid(steps), self.diff_cfg.schedule)

        def body(carry, i):
            z_a, z_l = carry
            l_t, l_s = logsnrs[i], logsnrs[i + 1]
            eps_a, eps_l = self.model.apply(
                params, z_a, given, type_given, z_l, jnp.full((b,), l_t), mask
            )
            x0_a = predict_x0(z_a, eps_a, l_t)
            x0_l = predict_x0(z_l, eps_l, l_t)
            if self.diff_cfg.project_x0:
                x0_a = jnp.concatenate([project_x0(x0_a[..., :cc], self.diff_cfg.coords),
                                        jnp.clip(x0_a[..., cc:], -1.0, 1.0)], axis=-1)
                x0_l = jnp.clip(x0_l, -LATTICE_X0_CLIP, LATTICE_X0_CLIP)
            k_a, k_l = jax.random.split(jax.random.fold_in(k_loop, i))
            last = i == steps - 1
            new_a = jnp.where(
                last,
                x0_a,
                ancestral_step(z_a, x0_a, l_t, l_s, jax.random.normal(k_a, z_a.shape), self.gamma),
            )
            new_l = jnp.where(
                last,
                x0_l,
                ancestral_step(z_l, x0_l, l_t, l_s, jax.random.normal(k_l, z_l.shape), self.gamma),
            )
            new_a = new_a.at[..., -1:].set(jnp.where(fix_type, x_type, new_a[..., -1:]))
            new_a = jnp.where(mask[..., None], new_a, 0.0)
            return (new_a, new_l), None

        (z_atoms, z_lat), _ = jax.lax.scan(body, (z_atoms, z_lat), jnp.arange(steps))
        return decode_frac(z_atoms[..., :cc], self.diff_cfg.coords), z_atoms[..., -1], z_lat

    def _flow_velocity(self, params, frac, lattice, z, t, x_type, given, type_given, mask):
        """The network's (coordinate, lattice, type) velocities; types given stay fixed."""
        fix_type = type_given[:, None, None]
        z = jnp.where(fix_type, x_type, z)
        atom_x = jnp.where(mask[..., None], jnp.concatenate([frac, z], axis=-1), 0.0)
        v_atoms, v_lat = self.model.apply(params, atom_x, given, type_given, lattice, t, mask)
        return v_atoms[..., :3], v_lat, jnp.where(fix_type, 0.0, v_atoms[..., 3:])

    def _flow_batch(self, params, numbers, mask, type_given, key):
        """Integrate the flow from uniform coordinates and a normal lattice (and types) to a
        crystal."""
        b, n = mask.shape
        k_f, k_l, k_z = jax.random.split(key, 3)
        x_type = encode_atomic_numbers(numbers)[..., None]
        fix_type = type_given[:, None, None]
        given = jnp.where(type_given[:, None], numbers, 0)
        m = mask[..., None]

        def velocity(frac, lattice, z, t):
            return self._velocity(params, frac, lattice, z, t, x_type, given, type_given, mask)

        frac, lattice, z = flow.integrate(
            velocity,
            jax.random.uniform(k_f, (b, n, 3)),
            jax.random.normal(k_l, (b, 6)),
            jnp.where(fix_type, x_type, jax.random.normal(k_z, (b, n, 1))),
            self.steps,
            self.integrator,
            self.anneal_coords,
            self.anneal_lattice,
            self.anneal_cap,
            self.churn,
            self.churn_until,
            jax.random.fold_in(key, 3),  # the keys above come from split(key, 3)
        )
        z = jnp.where(fix_type, x_type, jnp.clip(z, -1.0, 1.0))
        return jnp.where(m, frac, 0.0), jnp.where(mask, z[..., 0], 0.0), lattice

    # -- batching ---------------------------------------------------------------------------------
    def bucket_for(self, n_atoms: int) -> int:
        for b in self.cfg.buckets:
            if n_atoms <= b:
                return int(b)
        raise ValueError(
            f"a cell of {n_atoms} atoms exceeds the largest sampling bucket "
            f"{max(self.cfg.buckets)}; choose fewer formula units or add a bucket (sampler.buckets)"
        )

    def batch_cap(self, bucket: int) -> int:
        cap = min(self.cfg.max_batch, self.cfg.tokens_per_batch // (bucket + 1))
        if self.model_cfg.arch == "periodic":  # pair tensors grow with the square of the cell
            cap = min(cap, self.cfg.pairs_per_batch // (bucket * bucket))
        return max(self.cfg.min_batch, _pow2_at_most(cap))

    def plan(self, n_atoms: Sequence[int]) -> list[tuple[int, int, np.ndarray]]:
        """[(bucket, batch size, request indices)]: the compiled batches that cover the requests."""
        n_atoms = np.asarray(n_atoms, np.int64)
        buckets = np.array([self.bucket_for(int(n)) for n in n_atoms], np.int64)
        out = []
        for bucket in np.unique(buckets):
            idx = np.flatnonzero(buckets == bucket)
            cap = self.batch_cap(int(bucket))
            if idx.size > cap:
                # Several equal batches (one program), each at most the cap, padded to a
                # multiple of 64.
                n_batches = math.ceil(idx.size / cap)
                size = min(cap, 64 * math.ceil(idx.size / n_batches / 64))
            else:  # one batch: the next power of two
                size = min(cap, max(self.cfg.min_batch, _pow2_at_least(idx.size)))
            for start in range(0, idx.size, size):
                out.append((int(bucket), size, idx[start : start + size]))
        return out

    def _executable(self, size: int, bucket: int):
        """The compiled sampler for one (batch, bucket) shape, compiled ahead of time once."""
        if (size, bucket) not in self._compiled:
            args = (self.params, *pad_cells([], [], size, bucket), jax.random.key(0))
            self._compiled[(size, bucket)] = self._jitted.lower(*args).compile()
        return self._compiled[(size, bucket)]

    def _run(self, params, numbers, mask, given, key):
        return self._executable(*mask.shape)(params, numbers, mask, given, key)

    def warmup(self, n_atoms: Sequence[int]) -> None:
        """Compile every program that sampling ``n_atoms`` cells will use (nothing is run)."""
        for bucket, size in sorted({(b, s) for b, s, _ in self.plan(n_atoms)}):
            self._executable(size, bucket)

    def settings(self) -> dict:
        """The resolved sampler settings (the bundle's defaults with the config's overrides)."""
        out = {"process": self.diff_cfg.process, "steps": self.steps, "gamma": self.gamma}
        if self.diff_cfg.process == "flow":
            out.update(integrator=self.integrator, anneal_coords=self.anneal_coords,
                       anneal_lattice=self.anneal_lattice, anneal_cap=self.anneal_cap)
            if self.churn > 0.0:  # results of deterministic samplers keep their old records
                out.update(churn=self.churn, churn_until=self.churn_until)
        return out

    @property
    def calls_per_step(self) -> int:
        """Network evaluations per sampling step (Heun evaluates twice)."""
        return 2 if self.diff_cfg.process == "flow" and self.integrator == "heun" else 1

    def plan_flops(self, n_atoms: Sequence[int]) -> float:
        """Executed FLOPs (XLA count, padding included) of sampling ``n_atoms`` cells."""
        per_shape: dict[tuple[int, int], float] = {}
        total = 0.0
        for bucket, size, _ in self.plan(n_atoms):
            if (bucket, size) not in per_shape:
                per_shape[(bucket, size)] = (
                    self.forward_flops(bucket, size) * self.steps * self.calls_per_step
                )
            total += per_shape[(bucket, size)]
        return total

    def _run_requests(
        self, numbers_list: Sequence[np.ndarray], type_given: Sequence[bool], key
    ) -> list[Crystal]:
        n_atoms = [len(x) for x in numbers_list]
        if any(n < 1 for n in n_atoms):
            raise ValueError("every requested cell needs at least one atom")
        pending = []
        plan, total, done = self.plan(n_atoms), len(n_atoms), 0
        new = sorted({(s, b) for b, s, _ in plan if (s, b) not in self._compiled})
        for bi, (bucket, size, idx) in enumerate(plan):
            numbers, mask, given = pad_cells([numbers_list[r] for r in idx],
                                             [type_given[r] for r in idx], size, bucket)
            if (size, bucket) not in self._compiled:  # progress hook: compiling takes a while
                report("compile", new.index((size, bucket)), len(new),
                       f"the sampler for {size} cells of <= {bucket} atoms")
            out = self._run(self.params, numbers, mask, given, jax.random.fold_in(key, bi))
            pending.append((idx, out))  # dispatched asynchronously; fetched below
        results: list[Crystal | None] = [None] * len(n_atoms)
        if new:
            report("compile", len(new), len(new), "the sampler")
        what = (f"sampling {total} structures in {len(plan)} "
                f"batch{'es' if len(plan) != 1 else ''}, {self.steps} steps")
        report("sample", 0, total, what)
        for idx, out in pending:
            frac, type_channel, lat = (np.asarray(x, np.float64) for x in jax.device_get(out))
            done += len(idx)
            report("sample", done, total, what)
            for row, r in enumerate(idx):
                n = n_atoms[r]
                z = (
                    np.asarray(numbers_list[r])
                    if type_given[r]
                    else decode_atomic_numbers(type_channel[row, :n])
                )
                params = self.normaliser.decode(lat[row], n)
                results[r] = Crystal.from_params(frac[row, :n], z, params)
        return results  # type: ignore[return-value]

    # -- public API -------------------------------------------------------------------------------
    def sample_cells(self, cells: Sequence[Sequence[int]], key) -> list[Crystal]:
        """Crystal structure prediction: one crystal per list of atomic numbers (the cell's
        atoms)."""
        cells = [np.asarray(c, np.int64) for c in cells]
        return self._run_requests(cells, [True] * len(cells), key)

    def generate(self, n_atoms: Sequence[int], key) -> list[Crystal]:
        """Crystals whose atom types are generated too (continuous atomic-number channel)."""
        cells = [np.zeros(int(n), np.int64) for n in n_atoms]
        return self._run_requests(cells, [False] * len(cells), key)

    def choose_formula_units(self, formula: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of Z for ``formula`` from the bundle's data-driven prior."""
        return self.z_prior.choose(atomic_numbers_for(formula, 1), n, rng)

    def sample(self, formulae: Sequence[str], n_per_formula: int, key,
               formula_units: Sequence[int] | int | None = None) -> list[list[Crystal]]:
        """``n_per_formula`` crystals per formula. A formula is read as its reduced composition;
        the cell holds Z copies of it, Z from ``formula_units`` (one int or one per formula) or
        drawn per sample from the prior."""
        if isinstance(formulae, str):
            formulae = [formulae]
        if n_per_formula < 1:
            raise ValueError("n_per_formula must be at least 1")
        if isinstance(formula_units, int):
            formula_units = [formula_units] * len(formulae)
        if formula_units is not None and len(formula_units) != len(formulae):
            raise ValueError(f"{len(formula_units)} formula_units for {len(formulae)} formulae")
        rng = np.random.default_rng(
            np.asarray(jax.random.key_data(jax.random.fold_in(key, 0))).ravel()
        )
        cells, owner = [], []
        for i, formula in enumerate(formulae):
            unit = atomic_numbers_for(formula, 1)
            if formula_units is not None:
                z = int(formula_units[i])
                if z < 1:
                    raise ValueError(f"formula_units must be positive, got {z} for {formula}")
                zs = np.full(n_per_formula, z)
            else:
                zs = self.z_prior.choose(unit, n_per_formula, rng)
            for z in zs:
                check_cell_size(formula, len(unit), int(z))
                cells.append(np.tile(unit, int(z)))
                owner.append(i)
        crystals = self.sample_cells(cells, jax.random.fold_in(key, 1))
        out: list[list[Crystal]] = [[] for _ in formulae]
        for i, c in zip(owner, crystals, strict=True):
            out[i].append(c)
        return out

    def sample_structures(
        self, formulae: Sequence[str], n: int, key, z: Sequence[int] | int | None = None
    ):
        """Like :meth:`sample` but returns pymatgen ``Structure`` objects."""
        return [[to_pymatgen(c) for c in group] for group in self.sample(formulae, n, key, z)]

    def forward_flops(self, bucket: int, batch: int) -> float:
        """Matmul FLOPs of one denoiser call on a [batch, bucket] padded input (padding included).

        Counted from the parameter shapes: every token-wise kernel costs 2·T·size per crystal
        (T = bucket + 1 tokens with the lattice token), the per-crystal time/FiLM kernels 2·size,
        and each attention layer 4·T²·width (scores and weighted sum). It agrees with XLA's CPU
        cost analysis to < 1 % (see the tests); XLA's count on GPU misses the cuBLAS calls.
        """
        if self.model_cfg.arch == "periodic":
            return denoiser_v2.forward_flops(self.model_cfg, bucket, batch)
        tokens = bucket + 1
        per_token = per_crystal = 0
        for path, leaf in jax.tree_util.tree_flatten_with_path(self.params)[0]:
            name = "/".join(str(getattr(k, "key", k)) for k in path)
            if not name.endswith("kernel"):
                continue
            if "film" in name or "time_mlp" in name:
                per_crystal += leaf.size
            else:
                per_token += leaf.size
        widths = [self.model_cfg.base_width * m for m in self.model_cfg.width_multipliers]
        block_widths = (
            widths * self.model_cfg.blocks_per_level
            + [widths[-1]] * self.model_cfg.mid_blocks
            + widths * self.model_cfg.blocks_per_level
        )
        attention = sum(4 * tokens * tokens * w for w in block_widths)
        return float(batch * (2 * tokens * per_token + 2 * per_crystal + attention))

    def xla_forward_flops(self, bucket: int, batch: int) -> float:
        """XLA's own FLOP count of one denoiser call (reliable on CPU)."""
        cc = self.coord_channels
        args = (
            self.params,
            jnp.zeros((batch, bucket, cc + 1)),
            jnp.ones((batch, bucket), jnp.int32),
            jnp.ones((batch,), bool),
            jnp.zeros((batch, 6)),
            jnp.zeros((batch,)),
            jnp.ones((batch, bucket), bool),
        )
        cost = jax.jit(lambda *a: self.model.apply(*a)).lower(*args).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        return float(cost.get("flops", float("nan")))


def load_sampler(
    path: str | Path | None = None, cfg: SamplerConfig | None = None
) -> DiffusionSampler:
    """The sampler of a bundle folder (``None``: the shipped model in
    ``genms/assets/models/denoiser``)."""
    cfg = cfg or SamplerConfig()
    path = Path(path or cfg.bundle or default_bundle_path())
    if not (path / "bundle.json").is_file():
        raise FileNotFoundError(
            f"no denoiser bundle at {path}; train one with `genms train diffusion` "
            "(it exports to the run folder's 'bundle/') or pass sampler.bundle=PATH"
        )
    return DiffusionSampler(DiffusionBundle.load(path), cfg)
