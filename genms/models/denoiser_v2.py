"""The periodic denoiser of π_lo v2: a transformer over atoms that sees the cell's periodic
geometry.

Each atom is a token (element embedding when the formula is given, plus the type channel);
the cell enters in two rotation-invariant ways: its six normalised lattice features (lengths
per atom^⅓ and angles, :mod:`genms.diffusion.lattice`) condition every block through FiLM,
together with the time, and the decoded noisy cell turns fractional differences into distances.
No block ever sees an absolute coordinate: every pair of atoms (i, j) carries

* integer-frequency Fourier features of the wrapped difference ``(f_j − f_i)`` (exactly
  periodic, so any image of j gives the same features), and
* a radial basis of their nearest-image distance under the noisy lattice,

and each block turns them, with both atoms' states, into a pair embedding that supplies a
per-head attention bias (zero at initialisation) and a per-pair value added to atom j's value,
so the message from j to i depends on where j sits relative to i. The pair values are linear in
the pair embedding, so each head first takes the attention-weighted sum of the embeddings and
then projects it (:class:`PairValue`): the same function as projecting every pair, without the
[B, N, N, width] tensor. Outputs:

* a fractional-coordinate velocity per atom with its mean over the cell removed (a global
  shift of a crystal is not a different crystal),
* a type-channel velocity per atom, and a lattice velocity from the mean-pooled atom states.

Symmetries (tested on the CPU): outputs are equivariant to any permutation of the atoms,
invariant to a global translation of the fractional coordinates (mod 1), and unchanged by
padding slots.

Shapes (B crystals, N atom slots):
  atom_x: float[B, N, 4]    noisy fractional coordinates (3, in [0, 1)) + the type channel
  atomic_numbers: int[B, N] given atomic numbers (0 where unknown or padded)
  type_given: bool[B]       True when the atom types are conditioning, not generated
  lattice_x: float[B, 6]    noisy normalised lattice features
  time: float[B]            flow time in [0, 1] (0 = noise, 1 = data)
  atom_mask: bool[B, N]     real atoms
returns (velocity_atoms float32[B, N, 4], velocity_lattice float32[B, 6]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from genms.configs import ranged
from genms.diffusion.inputs import MAX_Z
from genms.diffusion.lattice import decode_in_graph
from genms.models.layers import MLP, FeedForward, masked_mean, sinusoidal_embedding
from genms.models.periodic import (
    fourier_features,
    lattice_matrix,
    nearest_image_distances,
    radial_basis,
    wrapped_differences,
)

LATTICE_DIM = 6


@dataclass(frozen=True)
class PeriodicDenoiserConfig:
    """Network shape of the periodic denoiser (``model=denoiser_v2``)."""

    arch: str = "periodic"
    width: int = ranged(256, 1, 65_536)
    depth: int = ranged(6, 1, 1000)
    heads: int = ranged(8, 1, 1024)
    pair_width: int = ranged(128, 1, 65_536)  # width of the per-layer pair embedding
    n_freq: int = ranged(8, 1, 1024)  # Fourier frequencies k = 1..n_freq per axis
    n_rbf: int = ranged(32, 1, 4096)  # radial basis functions over [0, r_max]
    r_max: float = ranged(8.0, 0, 100, lo_open=True)  # Å
    mlp_expansion: int = ranged(4, 1, 64)
    dropout: float = ranged(0.0, 0, 1, hi_open=True)
    time_embed_dim: int = ranged(128, 2, 65_536)
    element_embedding: bool = True

    def __post_init__(self) -> None:
        for name in ("width", "depth", "heads", "pair_width", "n_freq", "n_rbf", "mlp_expansion",
                     "time_embed_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"model.{name} must be at least 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(
                f"model.width ({self.width}) must be a multiple of model.heads ({self.heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if not self.r_max > 0.0:
            raise ValueError(f"model.r_max must be positive, got {self.r_max}")


def _film_norm(x, cond, width: int, name: str):
    """LayerNorm without affine parameters, then a FiLM scale/shift from ``cond``
    (zero-initialised)."""
    h = nn.LayerNorm(use_scale=False, use_bias=False, dtype=jnp.float32, name=f"{name}_norm")(x)
    film = nn.Dense(2 * width, kernel_init=nn.initializers.zeros, name=f"{name}_film")(cond)
    scale, shift = jnp.split(film[:, None, :], 2, axis=-1)
    return h * (1.0 + scale) + shift


class PairValue(nn.Module):
    """Σ_k w[h, q, k] · (e[q, k] · W_h + b_h), the attention-weighted pair values of each head.

    Projecting every pair first (a dense layer to [B, N, N, H, D]) costs N²·p·width per crystal
    and holds an N²·width tensor; the projection is linear, so it is applied after the
    weighted sum over k instead (N²·H·p + N·H·p·D). ``kernel`` [p, H, D] and ``bias`` [H, D]
    are the parameters such a dense layer would have. The bias enters with the row sums of the
    weights (1 after a softmax, other values after dropout).
    """

    heads: int
    head_dim: int
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, weights, e):
        """weights [B, H, N, N] (query, key), e [B, N, N, p] -> [B, N, H, D]."""
        kernel = self.param("kernel", nn.initializers.lecun_normal(in_axis=0, out_axis=(1, 2)),
                            (e.shape[-1], self.heads, self.head_dim))
        bias = self.param("bias", nn.initializers.zeros, (self.heads, self.head_dim))
        weights, e, kernel, bias = nn.dtypes.promote_dtype(weights, e, kernel, bias,
                                                           dtype=self.dtype)
        summed = jnp.einsum("bhqk,bqkp->bqhp", weights, e)
        return (jnp.einsum("bqhp,phd->bqhd", summed, kernel)
                + jnp.moveaxis(weights.sum(-1), 1, 2)[..., None] * bias)


class PeriodicBlock(nn.Module):
    """Pair-aware attention (bias + pair values), then a FiLM-conditioned MLP; both residual."""

    cfg: PeriodicDenoiserConfig
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, h, pair, cond, mask, *, train: bool):
        cfg = self.cfg
        heads, head_dim, p = cfg.heads, cfg.width // cfg.heads, cfg.pair_width
        x = _film_norm(h, cond, cfg.width, "attn")
        # Pair embedding: both atoms' states and the geometry of the pair.
        e = (nn.Dense(p, dtype=self.dtype, name="pair_i")(x)[:, :, None, :]
             + nn.Dense(p, dtype=self.dtype, use_bias=False, name="pair_j")(x)[:, None, :, :]
             + nn.Dense(p, dtype=self.dtype, use_bias=False, name="pair_geom")(pair))
        e = jax.nn.silu(e)
        bias = nn.Dense(
            heads, dtype=self.dtype, kernel_init=nn.initializers.zeros, name="pair_bias"
        )(e)
        qkv = nn.DenseGeneral((3, heads, head_dim), dtype=self.dtype, name="qkv")(x)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) / math.sqrt(head_dim)
        logits = logits + jnp.moveaxis(bias.astype(jnp.float32), -1, 1)
        logits = jnp.where(mask[:, None, None, :], logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1)
        weights = nn.Dropout(cfg.dropout, deterministic=not train)(weights).astype(self.dtype)
        out = (jnp.einsum("bhqk,bkhd->bqhd", weights, v)
               + PairValue(heads, head_dim, self.dtype, name="pair_value")(weights, e))
        out = nn.DenseGeneral(
            cfg.width,
            axis=(-2, -1),
            dtype=self.dtype,
            kernel_init=nn.initializers.zeros,
            name="out",
        )(out)
        h = h + out.astype(h.dtype)
        return FeedForward(cfg.width, cfg.mlp_expansion, cfg.dropout, dtype=self.dtype, name="mlp")(
            h, cond, train=train
        )


def pair_geometry(frac, lattice_params, cfg: PeriodicDenoiserConfig):
    """float[B, N, 3], float[B, 6] -> float32[B, N, N, 6·n_freq + n_rbf]: the invariant pair
    features."""
    d = wrapped_differences(frac.astype(jnp.float32))
    r = nearest_image_distances(d, lattice_matrix(lattice_params))
    return jnp.concatenate(
        [fourier_features(d, cfg.n_freq), radial_basis(r, cfg.n_rbf, cfg.r_max)], axis=-1
    )


class PeriodicDenoiser(nn.Module):
    """Velocity network of the flow process; see the module docstring."""

    cfg: PeriodicDenoiserConfig
    lattice_mean: tuple[float, ...]
    lattice_std: tuple[float, ...]
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(
        self, atom_x, atomic_numbers, type_given, lattice_x, time, atom_mask, *, train: bool = False
    ):
        cfg = self.cfg
        m = atom_mask.astype(jnp.float32)
        n_atoms = m.sum(-1)
        frac, type_channel = atom_x[..., :3], atom_x[..., 3:4].astype(jnp.float32)
        lattice_x = lattice_x.astype(jnp.float32)

        t_feat = sinusoidal_embedding(time * 1000.0, cfg.time_embed_dim)
        cell_feat = jnp.concatenate(
            [lattice_x, jnp.log(jnp.maximum(n_atoms, 1.0))[:, None]], axis=-1
        )
        cond = (MLP((cfg.time_embed_dim, cfg.time_embed_dim), name="time_mlp")(t_feat)
                + MLP((cfg.time_embed_dim, cfg.time_embed_dim), name="cell_mlp")(cell_feat))
        cond = jax.nn.silu(cond)

        params = decode_in_graph(lattice_x, n_atoms, self.lattice_mean, self.lattice_std)
        pair = pair_geometry(frac, params, cfg)
        pair = jax.nn.silu(nn.Dense(cfg.pair_width, dtype=self.dtype, name="pair_in")(pair))

        h = nn.Dense(cfg.width, name="type_in")(type_channel)
        if cfg.element_embedding:
            emb = nn.Embed(MAX_Z + 1, cfg.width, name="element")(jnp.clip(atomic_numbers, 0, MAX_Z))
            h = h + type_given[:, None, None].astype(jnp.float32) * emb
        for i in range(cfg.depth):
            h = PeriodicBlock(cfg, self.dtype, name=f"block_{i}")(
                h, pair, cond, atom_mask, train=train
            )

        h = nn.LayerNorm(dtype=jnp.float32, name="out_norm")(h.astype(jnp.float32))
        v_frac = nn.Dense(3, kernel_init=nn.initializers.zeros, name="coord_out")(h)
        v_frac = v_frac - masked_mean(v_frac, m)[:, None, :]
        v_type = nn.Dense(1, kernel_init=nn.initializers.zeros, name="type_out")(h)
        pooled = masked_mean(h, m)
        v_lat = nn.Dense(cfg.width, name="lattice_hidden")(pooled)
        v_lat = nn.Dense(LATTICE_DIM, kernel_init=nn.initializers.zeros, name="lattice_out")(
            jax.nn.silu(v_lat)
        )
        v_atoms = jnp.where(atom_mask[..., None], jnp.concatenate([v_frac, v_type], axis=-1), 0.0)
        return v_atoms, v_lat


def forward_flops(cfg: PeriodicDenoiserConfig, bucket: int, batch: int) -> float:
    """Matmul FLOPs of one call on a [batch, bucket] padded input (padding included)."""
    n, w, p, e = bucket, cfg.width, cfg.pair_width, 6 * cfg.n_freq + cfg.n_rbf
    pairs = n * n
    per_block = (2 * n * w * p * 2  # pair_i, pair_j
                 + 2 * pairs * p * p  # pair_geom
                 + 2 * pairs * p * cfg.heads  # bias
                 + 2 * pairs * cfg.heads * p  # attention-weighted pair embeddings
                 + 2 * n * p * w  # their projection to pair values
                 + 2 * n * w * 3 * w  # qkv
                 + 4 * pairs * w  # scores + weighted values
                 + 2 * n * w * w  # out
                 + 4 * n * w * w * cfg.mlp_expansion)  # MLP
    total = cfg.depth * per_block + 2 * pairs * e * p + 2 * n * w * 4
    return float(batch * total)
