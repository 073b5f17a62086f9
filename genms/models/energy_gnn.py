"""The crystal energy graph network (R_lo): a GNoME-style message-passing GNN in Flax over
jraph graphs.

Architecture (GNoME ``CrystalEnergyModel`` family, Battaglia-style graph network):

* node input: a learned embedding of the species (atomic number);
* edge input: Gaussian radial basis of the periodic interatomic distance (centres on
  ``[0, cutoff]``), embedded by a Dense layer;
* global input: the mean of the node embeddings (a composition summary);
* ``steps`` message-passing blocks, each with residual edge, node and global updates
  (edge MLP on [edge, sender, receiver, global]; node MLP on [node, weighted sum of incoming
  edges / average coordination, global]; global MLP on [global, mean of nodes]);
* readout: a per-atom energy MLP on [node, global]; the crystal's value is the mean over atoms.

Graphs are ``jraph.GraphsTuple`` in *fixed-degree* layout (built by ``genms.energy.batching``):
node ``i`` owns edges ``i*K .. i*K+K-1`` (``receivers == repeat(arange(n_nodes), K)``), so
aggregation onto receivers is a reshape-and-sum rather than a scatter. ``nodes`` holds
``species`` (int32) and ``mask`` (float32, 1 for real atoms); ``edges`` holds ``distance``
and ``weight`` (the smooth cutoff/K-nearest weight, 0 for padded edges); ``globals`` holds
``n_atoms`` (real atoms per graph, 0 for padding graphs). Matmuls run in ``dtype`` (bfloat16 by
default), parameters, sums and the readout stay float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from genms.configs import ranged
from genms.models.dtypes import FLOAT_NAMES, parse_dtype
from genms.models.layers import MLP

#: one embedding row per atomic number 0..118 (0 = padding)
N_SPECIES = 119


@dataclass(frozen=True)
class EnergyGNNConfig:
    hidden: int = ranged(128, 1, 65_536)
    steps: int = ranged(4, 1, 100)
    n_rbf: int = ranged(32, 1, 4096)
    rbf_width: float = ranged(0.5, 0, 100, lo_open=True)  # Å, Gaussian width of the radial basis
    cutoff: float = ranged(5.0, 0, 100, lo_open=True)  # Å
    max_neighbors: int = ranged(24, 1, 1024)  # K: nearest periodic neighbours kept per atom
    # Å, width of the smooth cutoff / K-boundary weight
    taper: float = ranged(0.5, 0, 100, lo_open=True)
    # mean summed edge weight per atom (fitted on the training set)
    avg_neighbors: float = ranged(16.0, 0, 1e6, lo_open=True)
    dtype: str = "bfloat16"


def gaussian_rbf(distance, n_rbf: int, cutoff: float, width: float):
    centres = jnp.linspace(0.0, cutoff, n_rbf)
    return jnp.exp(-(((distance[..., None] - centres) / width) ** 2))


def node_graph_index(graph: jraph.GraphsTuple) -> jax.Array:
    n_nodes = graph.nodes["species"].shape[0]
    n_graphs = graph.n_node.shape[0]
    return jnp.repeat(jnp.arange(n_graphs), graph.n_node, total_repeat_length=n_nodes)


class MessagePassingStep(nn.Module):
    """One graph-network block: residual edge, node and global updates."""

    hidden: int
    avg_neighbors: float
    dtype: object

    @nn.compact
    def __call__(self, h, e, u, nbr, weight, node_graph, mask, n_atoms):
        hd, dt = self.hidden, self.dtype
        n_graphs = u.shape[0]
        # edge update; the first layer of MLP([e, h_send, h_recv, u]) split per input so that
        # node and global projections are computed once and gathered (same function, fewer flops)
        h_dt = h.astype(dt)
        proj_s = nn.Dense(hd, use_bias=False, dtype=dt, name="edge_send")(h_dt)
        proj_r = nn.Dense(hd, use_bias=False, dtype=dt, name="edge_recv")(h_dt)
        proj_u = nn.Dense(hd, use_bias=False, dtype=dt, name="edge_glob")(u.astype(dt))
        pre = (
            nn.Dense(hd, dtype=dt, name="edge_self")(e)
            + proj_s[nbr]
            + (proj_r + proj_u[node_graph])[:, None, :]
        )
        e = e + nn.Dense(hd, dtype=dt, name="edge_out")(nn.swish(pre))
        # node update: smooth-weighted sum of incoming edges, normalised by mean coordination
        agg = jnp.sum(weight[..., None] * e.astype(jnp.float32), axis=1) / self.avg_neighbors
        node_in = jnp.concatenate([h, agg, u[node_graph]], axis=-1)
        node_mlp = MLP((hd, hd), "swish", norm=True, pre_norm=True, dtype=dt, name="node_mlp")
        h = (h + node_mlp(node_in).astype(jnp.float32)) * mask[:, None]
        # global update: mean over real atoms
        mean_h = jax.ops.segment_sum(h, node_graph, n_graphs) / jnp.maximum(n_atoms, 1.0)[:, None]
        glob_mlp = MLP((hd, hd), "swish", norm=True, pre_norm=True, dtype=dt, name="glob_mlp")
        u = u + glob_mlp(jnp.concatenate([u, mean_h], -1)).astype(jnp.float32)
        return h, e, u


class CrystalEnergyGNN(nn.Module):
    """Per-atom outputs (float32[n_nodes], 0 on padded atoms) of a fixed-degree crystal graph."""

    config: EnergyGNNConfig

    @nn.compact
    def __call__(self, graph: jraph.GraphsTuple) -> jax.Array:
        cfg = self.config
        dt = parse_dtype(cfg.dtype, FLOAT_NAMES, "model.dtype")
        species = graph.nodes["species"]
        mask = graph.nodes["mask"].astype(jnp.float32)
        n_nodes = species.shape[0]
        k = graph.senders.shape[0] // n_nodes
        n_graphs = graph.n_node.shape[0]
        node_graph = node_graph_index(graph)
        n_atoms = graph.globals["n_atoms"].astype(jnp.float32)
        nbr = graph.senders.reshape(n_nodes, k)
        dist = graph.edges["distance"].reshape(n_nodes, k)
        weight = graph.edges["weight"].reshape(n_nodes, k).astype(jnp.float32)

        h = nn.Embed(N_SPECIES, cfg.hidden, name="species_embed")(species) * mask[:, None]
        rbf = gaussian_rbf(dist, cfg.n_rbf, cfg.cutoff, cfg.rbf_width).astype(dt)
        e = nn.Dense(cfg.hidden, dtype=dt, name="edge_embed")(rbf)
        mean_h = jax.ops.segment_sum(h, node_graph, n_graphs) / jnp.maximum(n_atoms, 1.0)[:, None]
        u = nn.Dense(cfg.hidden, name="glob_embed")(mean_h)
        for t in range(cfg.steps):
            h, e, u = MessagePassingStep(cfg.hidden, cfg.avg_neighbors, dt, name=f"step{t}")(
                h, e, u, nbr, weight, node_graph, mask, n_atoms
            )
        readout_in = jnp.concatenate([h, u[node_graph]], axis=-1)
        x = nn.LayerNorm(name="readout_norm")(readout_in)
        x = nn.swish(nn.Dense(cfg.hidden, dtype=dt, name="readout_hidden")(x)).astype(jnp.float32)
        out = nn.Dense(1, name="readout_out")(x)[:, 0]
        return out * mask


def energy_per_atom(atom_out, species, graph: jraph.GraphsTuple, element_ref, scale):
    """eV/atom per graph: mean over real atoms of ``element_ref[Z] + scale * atom_out``.

    ``element_ref`` (float32[119]) and ``scale`` are the normalisers fitted on the training
    split (see ``genms.energy.normalise``); the mean of ``element_ref[Z]`` is the per-element
    linear reference of the composition.
    """
    mask = graph.nodes["mask"].astype(jnp.float32)
    per_atom = (element_ref[species] + scale * atom_out) * mask
    n_graphs = graph.n_node.shape[0]
    total = jax.ops.segment_sum(per_atom, node_graph_index(graph), n_graphs)
    return total / jnp.maximum(graph.globals["n_atoms"].astype(jnp.float32), 1.0)
