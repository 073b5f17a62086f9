"""The crystal denoiser of π_lo (GenMS §2.3, App. A.3): a set transformer shaped like a U-Net.

Tokens: one per atom (its noisy coordinate channels and the continuous atomic-number channel)
plus one **lattice token** carrying the six noisy lattice features. All tokens go through the
same blocks: a FiLM-conditioned MLP followed by order-invariant multi-head self-attention (no
positional encoding, so the atom outputs are permutation equivariant). Widths grow by the
multipliers on the way down (``base_width × (1, 2, 4)``), a middle section runs at the widest
level, and the way up concatenates the skip of the matching level (U-Net style; the number of
tokens never changes). The timestep enters as a sinusoidal embedding of the log-SNR turned into
FiLM scale/shift for every MLP. When the formula is given (crystal structure prediction) a
learned element embedding is added to the atom tokens; when atom types are generated, the
continuous channel alone carries them.

Shapes (B crystals, N atom slots):
  atom_x: float[B, N, C]    noisy coordinate channels (3 Gaussian / 6 torus) + 1 type channel
  atomic_numbers: int[B, N] the given atomic numbers (0 where unknown or padded)
  type_given: bool[B]       True when the atom types are conditioning, not generated
  lattice_x: float[B, 6]    noisy normalised lattice features
  logsnr: float[B]          log signal-to-noise ratio of the noise level
  atom_mask: bool[B, N]     real atoms
returns (eps_atom float32[B, N, C], eps_lattice float32[B, 6]).
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from genms.configs import ranged
from genms.diffusion.inputs import MAX_Z
from genms.models.layers import MLP, FeedForward, MaskedSelfAttention, sinusoidal_embedding

LATTICE_DIM = 6


@dataclass(frozen=True)
class DenoiserConfig:
    """Network shape. Paper (Table 8): base 256, multipliers 1/2/4, head dim 64, dropout 0.1."""

    arch: str = "set_transformer"
    base_width: int = ranged(256, 1, 65_536)
    width_multipliers: tuple[int, ...] = ranged((1, 2, 4), 1, 64)
    # MLP+attention blocks per level, on the way down and again up
    blocks_per_level: int = ranged(1, 0, 1000)
    # blocks at the widest level; 3 + 3 + 3 = the paper's 9 blocks
    mid_blocks: int = ranged(3, 0, 1000)
    head_dim: int = ranged(64, 1, 65_536)
    mlp_expansion: int = ranged(2, 1, 64)
    dropout: float = ranged(0.1, 0, 1, hi_open=True)
    time_embed_dim: int = ranged(256, 2, 65_536)
    element_embedding: bool = True  # learned embedding of given atomic numbers (CSP)

    def __post_init__(self) -> None:
        widths = [self.base_width * m for m in self.width_multipliers]
        if not widths:
            raise ValueError("model.width_multipliers must list at least one level")
        if self.head_dim > 0 and any(w % self.head_dim for w in widths):
            raise ValueError(
                f"model.head_dim ({self.head_dim}) must divide the width of every level "
                f"(model.base_width × model.width_multipliers = {widths})"
            )

    @property
    def n_blocks(self) -> int:
        return 2 * self.blocks_per_level * len(self.width_multipliers) + self.mid_blocks


class Block(nn.Module):
    width: int
    cfg: DenoiserConfig
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, h, cond, mask, *, train: bool):
        h = FeedForward(
            self.width, self.cfg.mlp_expansion, self.cfg.dropout, dtype=self.dtype, name="mlp"
        )(h, cond, train=train)
        return MaskedSelfAttention(
            self.width, self.cfg.head_dim, self.cfg.dropout, dtype=self.dtype, name="attn"
        )(h, mask, train=train)


class Denoiser(nn.Module):
    """ε-prediction network; see the module docstring for inputs and outputs."""

    cfg: DenoiserConfig
    atom_channels: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(
        self,
        atom_x,
        atomic_numbers,
        type_given,
        lattice_x,
        logsnr,
        atom_mask,
        *,
        train: bool = False,
    ):
        cfg = self.cfg
        widths = [cfg.base_width * m for m in cfg.width_multipliers]
        w0 = widths[0]
        # Time: log-SNR in [-20, 20] mapped to [0, 1000] like a discrete timestep index.
        t_feat = sinusoidal_embedding((logsnr + 20.0) * 25.0, cfg.time_embed_dim)
        cond = MLP((cfg.time_embed_dim, cfg.time_embed_dim), name="time_mlp")(t_feat)
        cond = jax.nn.silu(cond)

        atoms = nn.Dense(w0, name="atom_in")(atom_x.astype(jnp.float32))
        if cfg.element_embedding:
            given = type_given[:, None, None].astype(jnp.float32)
            emb = nn.Embed(MAX_Z + 1, w0, name="element")(jnp.clip(atomic_numbers, 0, MAX_Z))
            atoms = atoms + given * emb
        lattice = nn.Dense(w0, name="lattice_in")(lattice_x.astype(jnp.float32))
        lattice = lattice + self.param("lattice_token", nn.initializers.normal(0.02), (w0,))
        h = jnp.concatenate([lattice[:, None, :], atoms], axis=1)  # [B, 1 + N, w0]
        mask = jnp.concatenate([jnp.ones_like(atom_mask[:, :1]), atom_mask], axis=1)

        skips = []
        for lvl, width in enumerate(widths):
            if h.shape[-1] != width:
                h = nn.Dense(width, dtype=self.dtype, name=f"down_proj_{lvl}")(h)
            for b in range(cfg.blocks_per_level):
                h = Block(width, cfg, self.dtype, name=f"down_{lvl}_{b}")(
                    h, cond, mask, train=train
                )
            skips.append(h)
        for b in range(cfg.mid_blocks):
            h = Block(widths[-1], cfg, self.dtype, name=f"mid_{b}")(h, cond, mask, train=train)
        for lvl in reversed(range(len(widths))):
            width = widths[lvl]
            h = jnp.concatenate([h, skips.pop()], axis=-1)
            h = nn.Dense(width, dtype=self.dtype, name=f"up_proj_{lvl}")(h)
            for b in range(cfg.blocks_per_level):
                h = Block(width, cfg, self.dtype, name=f"up_{lvl}_{b}")(h, cond, mask, train=train)

        h = nn.LayerNorm(dtype=jnp.float32, name="out_norm")(h.astype(jnp.float32))
        eps_atom = nn.Dense(self.atom_channels, kernel_init=nn.initializers.zeros, name="atom_out")(
            h[:, 1:]
        )
        eps_lattice = nn.Dense(LATTICE_DIM, kernel_init=nn.initializers.zeros, name="lattice_out")(
            h[:, 0]
        )
        eps_atom = jnp.where(atom_mask[..., None], eps_atom, 0.0)
        return eps_atom, eps_lattice
