"""``EnergyTask``: the formation-energy GNN as a :class:`genms.train.task.Task` for the shared loop.

The task holds the prepared splits, their neighbour tables (built once with the device builder,
:func:`genms.energy.graph.neighbor_tables`) and the normalisers fitted on the training split.
Parameters are a *stacked ensemble*: every leaf has a leading axis of ``ensemble_size`` members
that are initialised from different keys and trained side by side in one ``vmap`` (same
batches, independent weights); the prediction is their mean and the spread their std.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from genms.configs import ranged
from genms.data.arrays import CrystalArrays
from genms.energy.batching import FlatBatcher, node_budget, to_graph
from genms.energy.graph import NeighborTables, neighbor_tables
from genms.energy.normalise import fit_normalisers
from genms.models.energy_gnn import CrystalEnergyGNN, EnergyGNNConfig, energy_per_atom

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnergyTaskConfig:
    model: EnergyGNNConfig = field(default_factory=EnergyGNNConfig)
    ensemble_size: int = ranged(1, 1, 1024)
    loss: str = "l1"  # l1 | huber | mse, on the normalised residual
    huber_delta: float = ranged(0.05, 0, 100, lo_open=True)  # in units of the residual scale


def mean_coordination(tables: NeighborTables) -> float:
    return float(tables.weight.sum(1).mean()) if len(tables.weight) else 1.0


def ensemble_apply(model: CrystalEnergyGNN, params, graph, element_ref, scale):
    """eV/atom per graph for every member: float32[M, n_graphs]."""

    def one(p):
        out = model.apply({"params": p}, graph)
        return energy_per_atom(out, graph.nodes["species"], graph, element_ref, scale)

    return jax.vmap(one)(params)


class EnergyTask:
    name = "energy"

    def __init__(self, cfg: EnergyTaskConfig, splits: dict[str, CrystalArrays], target: str,
                 batch_size: int, fingerprint: dict | None = None):
        if "train" not in splits or len(splits["train"]) == 0:
            raise ValueError("the energy task needs a non-empty 'train' split")
        if cfg.loss not in ("l1", "huber", "mse"):
            raise ValueError(f"task.loss must be l1, huber or mse, got {cfg.loss!r}")
        self.target = target
        self.splits = splits
        m = cfg.model
        self.tables = {
            name: neighbor_tables(arr, m.cutoff, m.max_neighbors, m.taper)
            for name, arr in splits.items()
        }
        train = splits["train"]
        if target not in train.targets:
            raise ValueError(
                f"target {target!r} not in the prepared arrays (have {sorted(train.targets)})"
            )
        self.normalisers = fit_normalisers(
            train.atomic_numbers, train.n_atoms, train.targets[target]
        )
        model_cfg = dataclasses.replace(m, avg_neighbors=mean_coordination(self.tables["train"]))
        self.cfg = dataclasses.replace(cfg, model=model_cfg)
        self.model = CrystalEnergyGNN(model_cfg)
        all_atoms = np.concatenate([a.n_atoms for a in splits.values()])
        # random training batches: mean + 6 sigma; evaluation walks the other splits in order,
        # so their consecutive batches must fit too
        sequential = [
            int(np.add.reduceat(a.n_atoms, np.arange(0, len(a), batch_size)).max())
            for name, a in splits.items() if name != "train" and len(a)
        ]
        self.n_nodes = max(
            [node_budget(all_atoms, batch_size), *[-(-s // 256) * 256 for s in sequential]]
        )
        self.batch_size = batch_size
        self.batchers = {
            name: FlatBatcher(arr, self.tables[name], arr.targets[target], self.n_nodes)
            for name, arr in splits.items()
        }
        self.fingerprint = fingerprint or {}
        self._ref = jnp.asarray(self.normalisers.element_ref)
        log.info(
            "energy task: %s; node budget %d for batch %d; mean coordination %.2f; residual scale "
            "%.4f eV/atom",
            ", ".join(f"{k}={len(v)}" for k, v in splits.items()),
            self.n_nodes,
            batch_size,
            model_cfg.avg_neighbors,
            self.normalisers.scale,
        )

    def set_ensemble_size(self, members: int) -> None:
        """Change the number of members before training starts (e.g. to fit a time budget)."""
        if members < 1:
            raise ValueError("ensemble_size must be >= 1")
        self.cfg = dataclasses.replace(self.cfg, ensemble_size=int(members))

    # --- Task protocol -------------------------------------------------------------------
    def num_examples(self, split: str) -> int:
        return len(self.splits[split]) if split in self.splits else 0

    def make_batch(self, split: str, indices, batch_size: int) -> dict:
        return self.batchers[split].batch(indices, batch_size)

    def init(self, key, batch):
        # parameters only (no forward pass is computed): shapes do not depend on the batch
        graph = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.asarray(x).dtype), to_graph(batch)
        )
        keys = jax.random.split(key, self.cfg.ensemble_size)
        return jax.jit(jax.vmap(lambda k: self.model.lazy_init(k, graph)["params"]))(keys)

    def predict(self, params, batch):
        return ensemble_apply(
            self.model, params, to_graph(batch), self._ref, self.normalisers.scale
        )

    def loss(self, params, batch, key, train: bool):
        pred = self.predict(params, batch)  # [M, G]
        gmask = batch["graph_mask"]
        n = jnp.maximum(gmask.sum(), 1.0)
        r = (pred - batch["target"][None]) / self.normalisers.scale
        if self.cfg.loss == "l1":
            per = jnp.abs(r)
        elif self.cfg.loss == "mse":
            per = r * r
        else:
            d = self.cfg.huber_delta
            a = jnp.abs(r)
            per = jnp.where(a < d, 0.5 * a * a / d, a - 0.5 * d)
        loss = jnp.sum(per.mean(0) * gmask) / n
        err = (pred.mean(0) - batch["target"]) * gmask
        metrics = {
            "mae_ev_per_atom": jnp.sum(jnp.abs(err)) / n,
            "member_mae_ev_per_atom": jnp.sum(jnp.abs(pred - batch["target"][None]).mean(0) * gmask)
            / n,
        }
        return loss, metrics

    def eval_metrics(self, params, batch, key) -> dict:
        pred = self.predict(params, batch)
        gmask = batch["graph_mask"]
        err = (pred.mean(0) - batch["target"]) * gmask
        return {
            "mae_ev_per_atom": jnp.sum(jnp.abs(err)),
            "mse_ev_per_atom": jnp.sum(err * err),
            "member_mae_ev_per_atom": jnp.sum(
                jnp.abs(pred - batch["target"][None]).mean(0) * gmask
            ),
            "count": gmask.sum(),
        }

    def checkpoint_extras(self) -> dict:
        return {
            "kind": "energy_gnn",
            "model": dataclasses.asdict(self.cfg.model),
            "ensemble_size": self.cfg.ensemble_size,
            "loss": self.cfg.loss,
            "target": self.target,
            "normalisers": self.normalisers.to_dict(),
            "data": {
                **self.fingerprint,
                "n": {k: len(v) for k, v in self.splits.items()},
                "dropped_over_node_budget": {k: b.n_dropped for k, b in self.batchers.items()},
            },
        }
