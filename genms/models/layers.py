"""Small Flax (Linen) layers shared by the models.

* :func:`sinusoidal_embedding` — fixed Fourier features of a scalar (diffusion time / log-SNR).
* :class:`MLP` — the multi-layer perceptron of every model: plain (the denoisers) or with a
  LayerNorm before each activation (the energy GNN).
* :class:`MaskedSelfAttention` — order-invariant multi-head self-attention over a padded set
  (no positional encoding), softmax in float32.
* :class:`FeedForward` — pre-norm MLP block with a FiLM (scale/shift) conditioning input.

Matmuls run in ``dtype`` (bfloat16 on accelerators when asked) with float32 parameters;
normalisation and softmax stay in float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def sinusoidal_embedding(x: jax.Array, dim: int, max_period: float = 10_000.0) -> jax.Array:
    """Fourier features of a scalar per row: float[...]-> float32[..., dim] (sin | cos)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = jnp.asarray(x, jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)


def masked_mean(x: jax.Array, m: jax.Array) -> jax.Array:
    """float[B, N, C], float[B, N] -> float[B, C]: mean over the real (m = 1) tokens."""
    return (x * m[..., None]).sum(1) / jnp.maximum(m.sum(1), 1.0)[:, None]


class MLP(nn.Module):
    """Dense layers of widths ``features`` with ``activation`` between them (none after the
    last); ``norm`` puts a LayerNorm before each activation and ``pre_norm`` one on the input.

    Parameter names are those the shipped bundles hold: ``dense_<i>`` for the plain MLP, Flax's
    own ``Dense_<i>`` / ``LayerNorm_<i>`` for the normalised one.
    """

    features: Sequence[int]
    activation: str = "silu"
    norm: bool = False
    pre_norm: bool = False
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = getattr(jax.nn, self.activation)
        named = not (self.norm or self.pre_norm)
        if self.pre_norm:
            x = nn.LayerNorm(dtype=self.dtype)(x)
        for i, width in enumerate(self.features):
            x = nn.Dense(width, dtype=self.dtype, name=f"dense_{i}" if named else None)(x)
            if i < len(self.features) - 1:
                if self.norm:
                    x = nn.LayerNorm(dtype=self.dtype)(x)
                x = act(x)
        return x


class FeedForward(nn.Module):
    """x + Dropout(W2 act(W1 FiLM(LN(x), cond))); ``cond``: float[B, C] broadcast over tokens."""

    width: int
    expansion: int = 2
    dropout: float = 0.0
    activation: str = "silu"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array, *, train: bool) -> jax.Array:
        h = nn.LayerNorm(use_scale=False, use_bias=False, dtype=jnp.float32, name="norm")(x)
        # FiLM from the conditioning vector; zero-initialised so each block starts as identity-ish.
        film = nn.Dense(2 * self.width, kernel_init=nn.initializers.zeros, name="film")(cond)
        scale, shift = jnp.split(film[:, None, :], 2, axis=-1)
        h = h * (1.0 + scale) + shift
        h = nn.Dense(self.width * self.expansion, dtype=self.dtype, name="up")(h)
        h = getattr(jax.nn, self.activation)(h)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = nn.Dense(self.width, dtype=self.dtype, kernel_init=nn.initializers.zeros, name="down")(
            h
        )
        return x + h.astype(x.dtype)


class MaskedSelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over tokens with a key mask; residual added.

    ``x``: float[B, T, D]; ``mask``: bool[B, T] (True = real token). No positional encoding, so
    the output is equivariant under any permutation of the tokens. Padded queries are computed
    but their outputs are meaningless; callers mask them.
    """

    width: int
    head_dim: int = 64
    dropout: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, *, train: bool) -> jax.Array:
        if self.width % self.head_dim:
            raise ValueError(f"width {self.width} is not a multiple of head_dim {self.head_dim}")
        heads = self.width // self.head_dim
        h = nn.LayerNorm(dtype=jnp.float32, name="norm")(x)
        qkv = nn.DenseGeneral((3, heads, self.head_dim), dtype=self.dtype, name="qkv")(h)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # [B, T, H, Dh]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) / math.sqrt(self.head_dim)
        logits = jnp.where(mask[:, None, None, :], logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1)
        weights = nn.Dropout(self.dropout, deterministic=not train)(weights)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights.astype(self.dtype), v)
        out = nn.DenseGeneral(
            self.width,
            axis=(-2, -1),
            dtype=self.dtype,
            kernel_init=nn.initializers.zeros,
            name="out",
        )(out)
        return x + out.astype(x.dtype)
