"""Inference: a trained energy-GNN bundle as a :class:`genms.interfaces.EnergyPredictor`.

``load_predictor(path=None)`` loads a bundle (``None`` = the one shipped in
``genms/assets/models/energy``). ``predict(crystals)`` groups the crystals by (padded atoms,
shift range), packs each group into dense padded cells and runs one jitted function per group
shape: device neighbour search -> fixed-degree graph -> ensemble GNN -> mean and spread
(a few batch shapes per bucket). Cells above ``dense_max_atoms`` take the training
path instead: neighbour tables from the same device builder, then graphs packed into one fixed
node budget, so large cells of any size share a single compiled GNN.

``in_range`` is False when the prediction lies outside the training targets' range (stored in
the bundle) or the crystal holds an element never seen in training; the search discards such
candidates rather than trusting an extrapolation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from genms.crystal.convert import to_crystal
from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.energy.batching import FlatBatcher, dense_graph, to_graph
from genms.energy.graph import build_neighbors, cell_buckets, dense_cells, neighbor_tables
from genms.energy.normalise import Normalisers
from genms.energy.task import ensemble_apply
from genms.interfaces import EnergyPrediction
from genms.models.energy_gnn import CrystalEnergyGNN, EnergyGNNConfig
from genms.paths import MODELS_DIR
from genms.progress import report
from genms.train.bundle import load_bundle

log = logging.getLogger(__name__)

DEFAULT_BUNDLE = MODELS_DIR / "energy"


class BundleError(FileNotFoundError):
    """The energy bundle is missing or is not an energy-GNN bundle."""


# Module-level jitted functions keyed on the (hashable) model config: every predictor with the
# same architecture shares the compiled code.
@partial(jax.jit, static_argnames=("config", "r"))
def _dense_forward(
    config: EnergyGNNConfig, params, ref, scale, frac, species, mask, lattice, r: int
):
    index, dist, weight = build_neighbors(
        frac, lattice, mask, r=r, k=config.max_neighbors, cutoff=config.cutoff, taper=config.taper
    )
    graph = dense_graph(species, mask, index, dist, weight)
    e = ensemble_apply(CrystalEnergyGNN(config), params, graph, ref, scale)
    return e.mean(0), e.std(0)


@partial(jax.jit, static_argnames=("config",))
def _flat_forward(config: EnergyGNNConfig, params, ref, scale, batch):
    e = ensemble_apply(CrystalEnergyGNN(config), params, to_graph(batch), ref, scale)
    return e.mean(0), e.std(0)


def _batch_shape(n: int, chunk: int) -> int:
    """Padded batch for ``n`` cells of one bucket: a power of two (>= 8) up to ``chunk / 8``,
    then even calls padded to a multiple of ``chunk / 8`` (few shapes, <= 1/8 padding)."""
    step = max(8, chunk // 8)
    if n <= step:
        return min(chunk, max(8, 1 << (n - 1).bit_length()))
    n_calls = -(-n // chunk)
    per_call = -(-n // n_calls)
    return min(chunk, -(-per_call // step) * step)


class GNNEnergyPredictor:
    """Batched, jitted formation-energy prediction (eV/atom) with an ensemble spread."""

    def __init__(self, params, extras: dict, max_nodes_per_call: int = 131072,
                 max_candidates: int = 2**27, dense_max_atoms: int = 24, flat_nodes: int = 16384,
                 flat_graphs: int = 512):
        if extras.get("kind") != "energy_gnn":
            raise BundleError("bundle is not an energy-GNN bundle (extras.kind != 'energy_gnn')")
        self.extras = extras
        self.config = EnergyGNNConfig(**extras["model"])
        self.normalisers = Normalisers.from_dict(extras["normalisers"])
        self.model = CrystalEnergyGNN(self.config)
        self.params = jax.device_put(jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params))
        self.max_nodes_per_call = int(max_nodes_per_call)
        self.max_candidates = int(max_candidates)
        self.dense_max_atoms = int(dense_max_atoms)
        self.flat_nodes = int(flat_nodes)
        self.flat_graphs = int(flat_graphs)
        self._ref = jnp.asarray(self.normalisers.element_ref)
        self._scale = jnp.float32(self.normalisers.scale)
        #: factor on the members' spread fitted on held-out data (genms.energy.ensemble)
        self.std_scale = float(extras.get("std_scale", 1.0))
        self._seen = np.zeros(256, bool)
        self._seen[list(self.normalisers.seen_elements)] = True
        # compiled (batch, atoms, shift range) shapes, for progress notes
        self._shapes: set[tuple] = set()
        self._done = self._total = 0  # progress of the current predict_arrays call

    def _forward(self, params, frac, species, mask, lattice, r: int):
        return _dense_forward(
            self.config, params, self._ref, self._scale, frac, species, mask, lattice, r=r
        )

    def _forward_flat(self, params, batch):
        return _flat_forward(self.config, params, self._ref, self._scale, batch)

    def _chunk(self, n_pad: int, r: int) -> int:
        per_cell = n_pad * n_pad * (2 * r + 1) ** 3
        c = max(1, min(self.max_nodes_per_call // n_pad, self.max_candidates // per_cell))
        return 1 << (c.bit_length() - 1)

    def _report_start(self, note: str) -> None:
        """``energy: 0/n`` once per pass (after compiling): a listener restarts its elapsed time
        and ETA there, so a second pass over the same structures does not carry on the first's."""
        if self._done == 0 and self._total:
            report("energy", 0, self._total, note)

    def _predict_dense(self, arrays: CrystalArrays, mean: np.ndarray, std: np.ndarray) -> None:
        """Small cells: one jitted neighbour search + GNN per (atoms bucket, shift range)."""
        offsets = arrays.offsets
        pending = []
        buckets = cell_buckets(arrays.n_atoms, arrays.lattice, self.config.cutoff)
        shapes = {
            (n_pad, r): _batch_shape(len(rows), self._chunk(n_pad, r))
            for (n_pad, r), rows in buckets.items()
        }
        new = sorted({(b, n, r) for (n, r), b in shapes.items()} - self._shapes)
        for (n_pad, r), rows in buckets.items():
            b_pad = shapes[(n_pad, r)]
            per_call = min(b_pad, len(rows))
            for start in range(0, len(rows), per_call):
                sel = rows[start : start + per_call]
                f, z, m, lat, *_ = dense_cells(
                    arrays.frac_coords,
                    arrays.atomic_numbers,
                    arrays.lattice,
                    arrays.n_atoms,
                    offsets,
                    sel,
                    n_pad,
                    b_pad,
                )
                if (b_pad, n_pad, r) not in self._shapes:
                    self._shapes.add((b_pad, n_pad, r))
                    report("compile", new.index((b_pad, n_pad, r)), len(new),
                           f"the energy model for {b_pad} cells of <= {n_pad} atoms")
                pending.append((sel, self._forward(self.params, f, z, m, lat, r=int(r))))
        if new:
            report("compile", len(new), len(new), "the energy model")
        self._report_start("formation energies")
        for sel, (mu, sd) in pending:  # dispatch everything first, then collect
            mean[sel] = np.asarray(mu)[: len(sel)]
            std[sel] = np.asarray(sd)[: len(sel)]
            self._done += len(sel)
            report("energy", self._done, self._total, "formation energies")

    def _predict_flat(self, arrays: CrystalArrays, mean: np.ndarray, std: np.ndarray) -> None:
        """Large cells: device neighbour tables, then graphs packed into one fixed node budget
        (a single compiled GNN shape for every size)."""
        cfg = self.config
        tables = neighbor_tables(
            arrays, cfg.cutoff, cfg.max_neighbors, cfg.taper, fixed_shapes=False
        )
        # The node budget: flat_nodes, or less when fewer atoms are asked for (a power of two,
        # so few shapes compile); never less than the largest cell.
        total = int(arrays.n_atoms.sum())
        small_budget = 1 << max(8, (total - 1).bit_length())
        n_nodes = max(min(self.flat_nodes, small_budget), int(arrays.n_atoms.max()))
        n_nodes = -(-n_nodes // 256) * 256
        batcher = FlatBatcher(arrays, tables, np.zeros(len(arrays), np.float32), n_nodes)
        order = np.argsort(arrays.n_atoms, kind="stable")
        pending, group, used = [], [], 0
        for i in order.tolist():
            n = int(arrays.n_atoms[i])
            if group and (used + n > n_nodes or len(group) == self.flat_graphs):
                pending.append(
                    (group, self._forward_flat(self.params, batcher.batch(group, self.flat_graphs)))
                )
                group, used = [], 0
            group.append(i)
            used += n
        if group:
            pending.append(
                (group, self._forward_flat(self.params, batcher.batch(group, self.flat_graphs)))
            )
        self._report_start("formation energies (large cells)")
        for group, (mu, sd) in pending:
            mean[group] = np.asarray(mu)[: len(group)]
            std[group] = np.asarray(sd)[: len(group)]
            self._done += len(group)
            report("energy", self._done, self._total, "formation energies (large cells)")

    def predict_arrays(self, arrays: CrystalArrays) -> EnergyPrediction:
        """Fast path on flat arrays (no per-crystal Python objects)."""
        n = len(arrays)
        self._done, self._total = 0, n
        mean = np.full(n, np.nan, np.float32)
        std = np.full(n, np.nan, np.float32)
        small = np.flatnonzero(arrays.n_atoms <= self.dense_max_atoms)
        large = np.flatnonzero(arrays.n_atoms > self.dense_max_atoms)
        for rows, run in ((small, self._predict_dense), (large, self._predict_flat)):
            if len(rows):
                sub = arrays if len(rows) == n else arrays.subset(rows)
                m, s = (
                    np.full(len(rows), np.nan, np.float32),
                    np.full(len(rows), np.nan, np.float32),
                )
                run(sub, m, s)
                mean[rows], std[rows] = m, s
        unseen = ~self._seen[np.asarray(arrays.atomic_numbers, np.int64)]
        owner = np.repeat(np.arange(n), arrays.n_atoms)
        has_unseen = np.zeros(n, bool)
        np.logical_or.at(has_unseen, owner[unseen], True)
        nm = self.normalisers
        in_range = (
            np.isfinite(mean) & (mean >= nm.target_min) & (mean <= nm.target_max) & ~has_unseen
        )
        return EnergyPrediction(
            e_form=mean.astype(np.float64),
            in_range=in_range,
            std=self.std_scale * std.astype(np.float64)
            if self.extras.get("ensemble_size", 1) > 1
            else None,
            extra={"unseen_elements": has_unseen},
        )

    def predict(self, crystals: Sequence[Any] | Any) -> EnergyPrediction:
        """Formation energies (eV/atom) of ``crystals``: :class:`Crystal` s, pymatgen
        ``Structure`` s, ASE ``Atoms``, structure dicts or CIF/POSCAR paths (one of them alone is
        taken as a list of one)."""
        one = isinstance(crystals, (Crystal, str, Path, dict)) or type(
            crystals
        ).__module__.startswith(("pymatgen", "ase"))
        if one:
            crystals = [crystals]
        crystals = [to_crystal(c) for c in crystals]
        if not crystals:
            empty = np.zeros(0)
            return EnergyPrediction(
                empty, np.zeros(0, bool), None, {"unseen_elements": np.zeros(0, bool)}
            )
        bad = [
            i
            for i, c in enumerate(crystals)
            if c.n_atoms == 0
            or not np.isfinite(c.lattice).all()
            or abs(np.linalg.det(c.lattice)) < 1e-6
        ]
        if bad:
            raise ValueError(
                f"crystals {bad[:10]} have no atoms or a singular/non-finite lattice; drop them "
                "before predicting"
            )
        arrays = CrystalArrays.from_crystals(crystals, [str(i) for i in range(len(crystals))])
        return self.predict_arrays(arrays)


def load_predictor(path: str | Path | None = None, **kwargs) -> GNNEnergyPredictor:
    """The predictor of the bundle at ``path`` (``None``: the shipped bundle)."""
    path = Path(path) if path else DEFAULT_BUNDLE
    if not (path / "bundle.json").is_file():
        raise BundleError(
            f"no energy-GNN bundle at {path}; train one with `genms train energy` "
            "(it exports to genms/assets/models/energy) or pass the bundle folder"
        )
    params, extras = load_bundle(path)
    return GNNEnergyPredictor(params, extras, **kwargs)
