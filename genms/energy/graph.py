"""Periodic neighbour graphs for the energy GNN: K nearest images within a cutoff, on the device.

Every atom keeps its ``K`` nearest periodic neighbours (any image, any atom, itself in other
cells included) within ``cutoff`` Å. Each kept edge carries a smooth weight

    w = s((min(d_(K+1), cutoff) - d) / taper),   s = smoothstep on [0, 1]

where ``d_(K+1)`` is the distance of the first neighbour that was *not* kept. The weight goes
to 0 at the cutoff and at the K-th/(K+1)-th boundary, so the graph the model sees is a
continuous function of the positions, and ties at the boundary (many equidistant neighbours of
different species) cannot make the result depend on atom order or cell choice.

Candidates come from a fixed set of lattice shifts ``[-R, R]^3``. With centred fractional
differences (``|Δ| <= 1/2``) every image within the cutoff lies in the set when
``R >= floor(cutoff * |b_i| + 1/2)`` for each reciprocal vector ``b_i`` (:func:`shift_range`),
so shapes are static per (atoms bucket, R) and the device builder compiles once per bucket.

* :func:`build_neighbors` — the jitted device builder on dense padded cells ``[B, N]``.
* :func:`neighbor_list_reference` — plain numpy, one crystal (the reference for tests).
* :func:`neighbor_tables` — neighbour tables of a whole :class:`CrystalArrays` (bucketed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

log = logging.getLogger(__name__)

#: distance given to masked candidates (larger than any cutoff)
FAR = 1.0e4
#: atoms-per-cell buckets: a cell is padded up to the first bucket that holds it
ATOM_BUCKETS = (
    2,
    4,
    6,
    8,
    12,
    16,
    20,
    24,
    32,
    40,
    48,
    64,
    80,
    96,
    128,
    160,
    200,
    256,
    320,
    400,
    512,
)


def atoms_bucket(n: int) -> int:
    for b in ATOM_BUCKETS:
        if n <= b:
            return b
    return int(-(-n // 128) * 128)


def shift_range(lattice: np.ndarray, cutoff: float) -> np.ndarray:
    """Smallest R (per cell, cubic ``[-R, R]^3``) whose shifts hold every image within ``cutoff``.

    ``lattice``: float[..., 3, 3] row vectors. Returns int[...].
    """
    lattice = np.asarray(lattice, np.float64)
    recip = np.linalg.inv(lattice)  # columns are the reciprocal vectors b_i (without 2 pi)
    norms = np.linalg.norm(recip, axis=-2)  # |b_i| = 1 / interplanar spacing
    r = np.floor(cutoff * norms + 0.5 + 1e-4).astype(np.int64)
    return np.maximum(r.max(axis=-1), 1)


def shift_vectors(r: int) -> np.ndarray:
    """The integer shifts ``[-r, r]^3`` as float32[(2r+1)^3, 3], the zero shift first."""
    g = np.arange(-r, r + 1)
    s = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    order = np.argsort(np.abs(s).sum(1), kind="stable")
    return s[order].astype(np.float32)


def smoothstep(x):
    x = jnp.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


@partial(jax.jit, static_argnames=("r", "k", "cutoff", "taper"))
def build_neighbors(frac, lattice, mask, *, r: int, k: int, cutoff: float, taper: float):
    """K nearest periodic neighbours of every atom of dense padded cells.

    Args:
      frac: float32[B, N, 3] fractional coordinates; lattice: float32[B, 3, 3] row vectors;
      mask: bool[B, N] real atoms. ``r``: shift range; ``k``: neighbours kept per atom.
    Returns:
      (index int32[B, N, k] of the neighbour atom in its cell, distance float32[B, N, k],
      weight float32[B, N, k]); weight is 0 for missing edges and for padded atoms.
    """
    b, n, _ = frac.shape
    shifts = jnp.asarray(shift_vectors(r))  # [S, 3], zero shift first
    s = shifts.shape[0]
    frac = frac.astype(jnp.float32)
    lattice = lattice.astype(jnp.float32)
    delta = frac[:, None, :, :] - frac[:, :, None, :]  # [B, i, j, 3]: j - i
    delta = delta - jnp.round(delta)
    # cartesian parts (elementwise sums: exact float32, no TF32 matmul)
    c = jnp.sum(delta[..., :, None] * lattice[:, None, None, :, :], axis=-2)  # [B, N, N, 3]
    t = jnp.sum(shifts[None, :, :, None] * lattice[:, None, :, :], axis=-2)  # [B, S, 3]
    vec = c[:, :, :, None, :] + t[:, None, None, :, :]  # [B, i, j, S, 3]
    d2 = jnp.sum(vec * vec, axis=-1)
    valid = mask[:, :, None, None] & mask[:, None, :, None]
    self_image = (
        jnp.eye(n, dtype=bool)[None, :, :, None] & (jnp.arange(s) == 0)[None, None, None, :]
    )
    valid = valid & ~self_image
    d2 = jnp.where(valid, d2, FAR * FAR).reshape(b, n, n * s)
    kk = k + 1
    if n * s < kk:  # too few candidates: pad with far ones
        d2 = jnp.concatenate([d2, jnp.full((b, n, kk - n * s), FAR * FAR, d2.dtype)], -1)
    neg, cand = jax.lax.top_k(-d2, kk)  # ascending distance
    cand_j = jnp.minimum(cand // s, n - 1)
    cand_s = cand % s
    # exact distances of the chosen candidates
    c_sel = jnp.take_along_axis(c, cand_j[..., None], axis=2)  # [B, N, kk, 3]
    t_sel = jax.vmap(lambda tb, idx: tb[idx])(t, cand_s)  # [B, N, kk, 3]
    dist = jnp.sqrt(jnp.sum((c_sel + t_sel) ** 2, -1))
    ok = (-neg) < FAR * FAR * 0.5
    dist = jnp.where(ok, dist, FAR)
    edge_ok = ok[..., :k] & (dist[..., :k] < cutoff) & mask[:, :, None]
    bound = jnp.minimum(dist[..., k:], cutoff)  # (K+1)-th distance, clipped at the cutoff
    weight = jnp.where(edge_ok, smoothstep((bound - dist[..., :k]) / taper), 0.0)
    index = jnp.where(edge_ok, cand_j[..., :k], 0).astype(jnp.int32)
    return index, jnp.where(edge_ok, dist[..., :k], cutoff), weight


def neighbor_list_reference(frac, lattice, cutoff: float, k: int, taper: float):
    """Numpy reference for one crystal: (index int[N, k], distance [N, k], weight [N, k]).

    Enumerates every image within the cutoff exhaustively (with a generous shift range),
    then applies the same K-nearest rule and weights as :func:`build_neighbors`.
    """
    frac = np.asarray(frac, np.float64)
    lattice = np.asarray(lattice, np.float64)
    n = frac.shape[0]
    r = int(shift_range(lattice, cutoff)) + 1
    g = np.arange(-r, r + 1)
    shifts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    index = np.zeros((n, k), np.int64)
    dist = np.full((n, k), cutoff)
    weight = np.zeros((n, k))
    for i in range(n):
        js, ds = [], []
        for j in range(n):
            vec = (frac[j] - frac[i] + shifts) @ lattice
            d = np.linalg.norm(vec, axis=1)
            if i == j:
                d = d[np.any(shifts != 0, axis=1)]
            js.append(np.full(d.shape, j))
            ds.append(d)
        js, ds = np.concatenate(js), np.concatenate(ds)
        order = np.argsort(ds, kind="stable")
        js, ds = js[order], ds[order]
        bound = min(ds[k], cutoff) if ds.size > k else cutoff
        m = min(k, ds.size)
        keep = ds[:m] < cutoff
        x = np.clip((bound - ds[:m]) / taper, 0.0, 1.0)
        w = np.where(keep, x * x * (3 - 2 * x), 0.0)
        index[i, :m] = np.where(keep, js[:m], 0)
        dist[i, :m] = np.where(keep, ds[:m], cutoff)
        weight[i, :m] = w
    return index, dist, weight


@dataclass(frozen=True)
class NeighborTables:
    """Per-atom neighbour tables of a dataset, aligned with ``CrystalArrays`` atom order.

    ``index``: int32[total_atoms, K] neighbour index *within its crystal*;
    ``distance``/``weight``: float32[total_atoms, K].
    """

    index: np.ndarray
    distance: np.ndarray
    weight: np.ndarray

    @property
    def k(self) -> int:
        return int(self.index.shape[1])


def dense_cells(frac, numbers, lattice, n_atoms, offsets, rows, n_pad: int, b_pad: int):
    """Pack crystals ``rows`` of flat arrays into dense padded arrays ``[b_pad, n_pad]``."""
    b = len(rows)
    f = np.zeros((b_pad, n_pad, 3), np.float32)
    z = np.zeros((b_pad, n_pad), np.int32)
    m = np.zeros((b_pad, n_pad), bool)
    lat = np.tile(np.eye(3, dtype=np.float32) * 10.0, (b_pad, 1, 1))
    counts = n_atoms[rows]
    slot = np.repeat(np.arange(b), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    src = np.repeat(offsets[rows], counts) + pos
    f[slot, pos] = frac[src]
    z[slot, pos] = numbers[src]
    m[slot, pos] = True
    lat[:b] = lattice[rows]
    return f, z, m, lat, slot, pos, src


def cell_buckets(
    n_atoms: np.ndarray, lattice: np.ndarray, cutoff: float
) -> dict[tuple[int, int], np.ndarray]:
    """Group crystals by (padded atoms, shift range): each group compiles once."""
    nb = np.array([atoms_bucket(int(n)) for n in n_atoms], np.int64)
    rr = shift_range(lattice, cutoff) if len(n_atoms) else np.zeros(0, np.int64)
    groups: dict[tuple[int, int], np.ndarray] = {}
    for key in sorted(set(zip(nb.tolist(), rr.tolist(), strict=True))):
        groups[key] = np.flatnonzero((nb == key[0]) & (rr == key[1]))
    return groups


def neighbor_tables(arrays, cutoff: float, k: int, taper: float, max_candidates: int = 2**24,
                    fixed_shapes: bool = True) -> NeighborTables:
    """Neighbour tables of every crystal of ``arrays`` with the device builder, bucket by bucket.

    ``fixed_shapes``: every call of a bucket uses its full chunk, so a bucket compiles once for
    all splits (training: compiling costs more than computing padded cells); otherwise small
    groups are padded to a power of two only (inference on a few cells).
    """
    total = int(arrays.n_atoms.sum())
    index = np.zeros((total, k), np.int32)
    dist = np.zeros((total, k), np.float32)
    weight = np.zeros((total, k), np.float32)
    offsets = arrays.offsets
    for (n_pad, r), rows in cell_buckets(arrays.n_atoms, arrays.lattice, cutoff).items():
        per_cell = n_pad * n_pad * (2 * r + 1) ** 3
        chunk = int(max(1, min(1024, max_candidates // per_cell)))
        chunk = 1 << (chunk.bit_length() - 1)
        b_pad = chunk if fixed_shapes else min(chunk, 1 << max(0, (len(rows) - 1).bit_length()))
        for start in range(0, len(rows), chunk):
            sel = rows[start : start + chunk]
            f, _, m, lat, slot, pos, src = dense_cells(
                arrays.frac_coords,
                arrays.atomic_numbers,
                arrays.lattice,
                arrays.n_atoms,
                offsets,
                sel,
                n_pad,
                b_pad,
            )
            idx, d, w = build_neighbors(
                f, lat, m, r=int(r), k=k, cutoff=float(cutoff), taper=float(taper)
            )
            idx, d, w = np.asarray(idx), np.asarray(d), np.asarray(w)
            index[src] = idx[slot, pos]
            dist[src] = d[slot, pos]
            weight[src] = w[slot, pos]
        log.debug("neighbour bucket n=%d r=%d: %d cells", n_pad, r, len(rows))
    return NeighborTables(index, dist, weight)
