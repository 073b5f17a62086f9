"""Fractional coordinates as diffusion channels: plain Gaussian or on the torus.

Fractional coordinates live on the 3-torus: 0.999 and 0.001 are neighbours. Two encodings:

* ``gaussian`` (3 channels): ``2 f − 1`` ∈ [−1, 1); noise and loss ignore periodicity and the
  decoded value is wrapped mod 1 at the end.
* ``torus`` (6 channels): each coordinate becomes the point ``(cos 2πf, sin 2πf)`` on the unit
  circle. Periodic images are the same point, so the network never sees the cut at 0/1; the
  Gaussian VP noise acts on the embedding, and decoding is ``atan2`` — exact on the circle and
  a projection anywhere else.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

MODES = ("gaussian", "torus")


def coord_channels(mode: str) -> int:
    if mode == "gaussian":
        return 3
    if mode == "torus":
        return 6
    raise ValueError(f"unknown coordinate mode {mode!r}; use one of {MODES}")


def encode_frac(frac, mode: str, xp=jnp):
    """float[..., 3] in [0, 1) -> float[..., coord_channels(mode)]."""
    if mode == "gaussian":
        return 2.0 * frac - 1.0
    if mode == "torus":
        angle = 2.0 * np.pi * frac
        return xp.concatenate([xp.cos(angle), xp.sin(angle)], axis=-1)
    raise ValueError(f"unknown coordinate mode {mode!r}; use one of {MODES}")


def decode_frac(x, mode: str, xp=jnp):
    """Inverse of :func:`encode_frac` for any real input, wrapped into [0, 1)."""
    if mode == "gaussian":
        frac = (x + 1.0) / 2.0
    elif mode == "torus":
        frac = xp.arctan2(x[..., 3:6], x[..., 0:3]) / (2.0 * np.pi)
    else:
        raise ValueError(f"unknown coordinate mode {mode!r}; use one of {MODES}")
    frac = xp.mod(frac, 1.0)
    return xp.where(frac >= 1.0, 0.0, frac)


def project_x0(x, mode: str):
    """Pull a predicted clean value back onto the data manifold (used during sampling).

    Gaussian: clip to [−1, 1]. Torus: normalise each (cos, sin) pair to the unit circle.
    """
    if mode == "gaussian":
        return jnp.clip(x, -1.0, 1.0)
    c, s = x[..., 0:3], x[..., 3:6]
    norm = jnp.sqrt(c * c + s * s) + 1e-6
    return jnp.concatenate([c / norm, s / norm], axis=-1)


def torus_delta(a, b, xp=jnp):
    """Shortest signed difference a − b on the unit circle, in (−0.5, 0.5]."""
    d = a - b
    return d - xp.round(d)
