"""Translation- and rotation-invariant geometry of a (noisy) periodic cell, in JAX.

Used by the periodic denoiser (:mod:`genms.models.denoiser_v2`) to give every pair of atoms
the quantities that do not change under a global shift of the fractional coordinates or a
rotation of the cell:

* :func:`wrapped_differences` — ``(f_j − f_i)`` wrapped into [−½, ½) per axis;
* :func:`fourier_features` — ``sin/cos(2π k d)`` for integer frequencies ``k = 1..K``, which
  are exactly periodic (an image of atom j gives the same features);
* :func:`lattice_matrix` — the cell matrix (rows a, b, c) of lengths and angles in the
  standard orientation (a along x, b in the xy plane); only its metric ``L Lᵀ`` is used;
* :func:`nearest_image_distances` — min over the 27 neighbouring images of ``|(d + n) L|``;
* :func:`radial_basis` — Gaussian radial basis expansion of distances.

All inputs are float32 arrays with leading batch axes; nothing here has parameters.
"""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

#: The 27 integer image offsets {−1, 0, 1}³.
IMAGE_OFFSETS = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=3)), np.float32)


def wrap(d):
    """Wrap into [−½, ½)."""
    return d - jnp.floor(d + 0.5)


def wrapped_differences(frac):
    """float[B, N, 3] -> float[B, N, N, 3]: ``wrap(f_j − f_i)`` (row i, column j)."""
    return wrap(frac[:, None, :, :] - frac[:, :, None, :])


def fourier_features(d, n_freq: int):
    """float[..., 3] -> float[..., 6 K]: ``sin, cos(2π k d)`` for k = 1..K on each axis."""
    k = jnp.arange(1, n_freq + 1, dtype=jnp.float32)
    angle = 2.0 * jnp.pi * d[..., None] * k  # [..., 3, K]
    feats = jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)
    return feats.reshape(*d.shape[:-1], 6 * n_freq)


def lattice_matrix(params):
    """float[B, 6] (a, b, c in Å; α, β, γ in degrees) -> float[B, 3, 3] with rows a, b, c.

    Angle triples that span no cell are handled by flooring the volume factor, so any real
    input gives a finite matrix (noisy lattices early in sampling can be far off).
    """
    a, b, c = params[:, 0], params[:, 1], params[:, 2]
    al, be, ga = (jnp.deg2rad(params[:, i]) for i in (3, 4, 5))
    cos_al, cos_be, cos_ga, sin_ga = jnp.cos(al), jnp.cos(be), jnp.cos(ga), jnp.sin(ga)
    sin_ga = jnp.where(jnp.abs(sin_ga) < 1e-3, 1e-3, sin_ga)
    vol = 1.0 - cos_al**2 - cos_be**2 - cos_ga**2 + 2.0 * cos_al * cos_be * cos_ga
    vol = jnp.sqrt(jnp.maximum(vol, 1e-4))
    zero = jnp.zeros_like(a)
    row_a = jnp.stack([a, zero, zero], -1)
    row_b = jnp.stack([b * cos_ga, b * sin_ga, zero], -1)
    row_c = jnp.stack([c * cos_be, c * (cos_al - cos_be * cos_ga) / sin_ga, c * vol / sin_ga], -1)
    return jnp.stack([row_a, row_b, row_c], axis=-2)


def nearest_image_distances(d, lattice):
    """d float[B, N, N, 3] wrapped, lattice float[B, 3, 3] -> float[B, N, N] (Å).

    The minimum over the 27 images around the wrapped difference; exact for all but very
    skewed cells, where the true nearest image can lie further out.
    """
    shifted = d[..., None, :] + IMAGE_OFFSETS  # [B, N, N, 27, 3]
    cart = jnp.einsum("bijkx,bxy->bijky", shifted, lattice)
    return jnp.sqrt(jnp.min(jnp.sum(cart * cart, axis=-1), axis=-1) + 1e-12)


def radial_basis(r, n_basis: int, r_max: float):
    """float[...] -> float[..., n_basis]: Gaussians centred on an even grid over [0, r_max]."""
    centres = jnp.linspace(0.0, r_max, n_basis, dtype=jnp.float32)
    width = r_max / max(n_basis - 1, 1)
    return jnp.exp(-(((r[..., None] - centres) / width) ** 2))
