"""Fixed-shape ``jraph.GraphsTuple`` batches for the energy GNN (fixed-degree layout).

Two producers, one layout (see ``genms.models.energy_gnn``):

* :func:`dense_graph` (device, jit-friendly): ``B`` cells padded to ``N`` atoms with their
  ``[B, N, K]`` neighbour tables -> ``B`` graphs of ``N`` nodes each (padded atoms masked).
  Used at inference, straight after :func:`genms.energy.graph.build_neighbors`.
* :class:`FlatBatcher` (host, numpy): crystals of a dataset with precomputed
  :class:`~genms.energy.graph.NeighborTables` -> ``G`` graphs packed into a fixed node budget,
  plus one padding graph that owns the unused nodes. Used for training, where batches mix
  cell sizes from 1 to 200 atoms.
"""

from __future__ import annotations

import logging
import math

import jax.numpy as jnp
import jraph
import numpy as np

from genms.data.arrays import CrystalArrays
from genms.energy.graph import NeighborTables

log = logging.getLogger(__name__)


def dense_graph(species, mask, index, distance, weight) -> jraph.GraphsTuple:
    """Device-side: dense padded cells + neighbour tables -> a GraphsTuple of ``B`` graphs."""
    b, n, k = index.shape
    senders = (index + (jnp.arange(b) * n)[:, None, None]).reshape(-1)
    receivers = jnp.repeat(jnp.arange(b * n), k)
    n_atoms = mask.sum(axis=1)
    return jraph.GraphsTuple(
        nodes={
            "species": species.reshape(-1).astype(jnp.int32),
            "mask": mask.reshape(-1).astype(jnp.float32),
        },
        edges={"distance": distance.reshape(-1), "weight": weight.reshape(-1)},
        senders=senders.astype(jnp.int32),
        receivers=receivers.astype(jnp.int32),
        n_node=jnp.full((b,), n, jnp.int32),
        n_edge=jnp.full((b,), n * k, jnp.int32),
        globals={"n_atoms": n_atoms.astype(jnp.float32)},
    )


def node_budget(
    n_atoms: np.ndarray, batch_size: int, sigmas: float = 6.0, multiple: int = 256
) -> int:
    """Nodes per batch: the mean load plus ``sigmas`` standard deviations, and at least the
    largest cell; a batch above it is practically never drawn (and is handled if it is)."""
    n_atoms = np.asarray(n_atoms, np.float64)
    mean = batch_size * n_atoms.mean()
    std = math.sqrt(batch_size) * n_atoms.std()
    need = max(mean + sigmas * std, n_atoms.max() * 2, batch_size)
    return int(math.ceil(need / multiple) * multiple)


class FlatBatcher:
    """Packs crystals of one split into fixed-shape graph batches (numpy, host side).

    Each batch has ``batch_size`` real-graph slots plus one padding graph and exactly
    ``n_nodes`` nodes and ``n_nodes * K`` edges. If the chosen crystals do not fit the node
    budget, the ones that do not fit get ``graph_mask = 0`` (counted in ``n_dropped``), so
    shapes never change.
    """

    def __init__(
        self, arrays: CrystalArrays, tables: NeighborTables, targets: np.ndarray, n_nodes: int
    ):
        self.arrays = arrays
        self.tables = tables
        self.targets = np.asarray(targets, np.float32)
        self.n_nodes = int(n_nodes)
        self.offsets = arrays.offsets
        self.n_dropped = 0

    def __len__(self) -> int:
        return len(self.arrays)

    def batch(self, indices, batch_size: int) -> dict:
        k = self.tables.k
        indices = np.asarray(list(indices), np.int64)
        if len(indices) > batch_size:
            raise ValueError(f"{len(indices)} indices for a batch of {batch_size}")
        counts = self.arrays.n_atoms[indices].astype(np.int64)
        fits = np.cumsum(counts) <= self.n_nodes
        if not fits.all():
            self.n_dropped += int((~fits).sum())
            log.warning(
                "batch exceeds the node budget %d: %d crystals masked",
                self.n_nodes,
                int((~fits).sum()),
            )
        # later crystals that would overflow are dropped; keep a prefix that fits
        keep = indices[fits]
        counts = counts[fits]
        used = int(counts.sum())
        starts = np.cumsum(counts) - counts  # first node of each kept graph
        src = np.repeat(self.offsets[keep], counts) + (np.arange(used) - np.repeat(starts, counts))

        species = np.zeros(self.n_nodes, np.int32)
        mask = np.zeros(self.n_nodes, np.float32)
        species[:used] = self.arrays.atomic_numbers[src]
        mask[:used] = 1.0
        nbr = np.zeros((self.n_nodes, k), np.int32)
        dist = np.full((self.n_nodes, k), 1.0, np.float32)
        weight = np.zeros((self.n_nodes, k), np.float32)
        nbr[:used] = self.tables.index[src] + np.repeat(starts, counts)[:, None]
        dist[:used] = self.tables.distance[src]
        weight[:used] = self.tables.weight[src]
        # padding nodes point at themselves (weight 0)
        nbr[used:] = np.arange(used, self.n_nodes)[:, None]

        n_node = np.zeros(batch_size + 1, np.int32)
        n_node[: len(keep)] = counts
        n_node[batch_size] = self.n_nodes - used
        n_atoms = np.zeros(batch_size + 1, np.float32)
        n_atoms[: len(keep)] = counts
        target = np.zeros(batch_size + 1, np.float32)
        target[: len(keep)] = self.targets[keep]
        graph_mask = np.zeros(batch_size + 1, np.float32)
        graph_mask[: len(keep)] = 1.0
        return {
            "species": species,
            "mask": mask,
            "senders": nbr.reshape(-1),
            "distance": dist.reshape(-1),
            "weight": weight.reshape(-1),
            "n_node": n_node,
            "n_atoms": n_atoms,
            "target": target,
            "graph_mask": graph_mask,
        }


def to_graph(batch: dict) -> jraph.GraphsTuple:
    """A :meth:`FlatBatcher.batch` dict (numpy or device arrays) -> ``jraph.GraphsTuple``."""
    n_nodes = batch["species"].shape[0]
    k = batch["senders"].shape[0] // n_nodes
    n_node = batch["n_node"]
    return jraph.GraphsTuple(
        nodes={"species": batch["species"], "mask": batch["mask"]},
        edges={"distance": batch["distance"], "weight": batch["weight"]},
        senders=batch["senders"],
        receivers=jnp.repeat(jnp.arange(n_nodes, dtype=jnp.int32), k),
        n_node=n_node,
        n_edge=n_node * k,
        globals={"n_atoms": batch["n_atoms"]},
    )
