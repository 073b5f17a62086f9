"""Flow matching on the crystal manifold (``diffusion.process=flow``): training target and sampler.

The path from noise (t = 0) to data (t = 1), per crystal:

* fractional coordinates on the 3-torus: ``f_0 ~ U[0, 1)³`` per atom and
  ``f_t = f_0 + t · wrap(f_1 − f_0)`` (mod 1), the shortest geodesic; the target velocity is
  ``wrap(f_1 − f_0)`` with its mean over the cell's atoms removed, since a global shift of a
  crystal is the same crystal and the network is translation invariant;
* the six normalised lattice features: ``l_0 ~ N(0, I)``, ``l_t = (1 − t) l_0 + t l_1``,
  target ``l_1 − l_0``;
* the atomic-number channel of crystals whose types are generated (``joint_fraction``):
  the same straight path from a standard normal; crystals with given types see it clean.

Velocities are regressed with a mean-squared error; the coordinate velocity is expressed in
units of ``COORD_STD`` (the standard deviation of a uniform wrapped difference), so all three
targets have unit-order variance. Sampling integrates the learned field from t = 0 to 1 with
Euler or Heun steps; ``anneal_coords`` / ``anneal_lattice`` scale the velocity by
``1 + s·t`` (the "anti-annealing" of FlowMM), which sharpens the end of the path.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from genms.models.layers import masked_mean
from genms.models.periodic import wrap

#: Standard deviation of wrap(U − U') on one axis: the unit of the coordinate velocity.
COORD_STD = math.sqrt(1.0 / 12.0)
INTEGRATORS = ("euler", "heun")


def objective(apply: Callable, batch: dict, x_type, key, cfg):
    """Per-crystal loss and metric parts of the flow objective.

    ``apply(atom_x, given, type_given, lattice_x, time)`` -> (v_atoms [B, N, 4], v_lattice [B, 6]);
    ``x_type`` float[B, N, 1] is the clean atomic-number channel.
    """
    mask = batch["mask"]
    m = mask.astype(jnp.float32)
    b = mask.shape[0]
    k_t, k_f, k_l, k_z, k_joint = jax.random.split(key, 5)
    t = jnp.mod(jax.random.uniform(k_t) + jnp.arange(b) / b, 1.0)  # stratified over the batch
    tb = t[:, None, None]
    f1, l1 = batch["frac"], batch["lattice"]
    f0 = jax.random.uniform(k_f, f1.shape)
    delta = wrap(f1 - f0)
    ft = jnp.mod(f0 + tb * delta, 1.0)
    target_f = (delta - masked_mean(delta, m)[:, None, :]) / COORD_STD
    l0 = jax.random.normal(k_l, l1.shape)
    lt = (1.0 - t[:, None]) * l0 + t[:, None] * l1
    z0 = jax.random.normal(k_z, x_type.shape)
    joint = jax.random.bernoulli(k_joint, cfg.joint_fraction, (b,))
    zt = jnp.where(joint[:, None, None], (1.0 - tb) * z0 + tb * x_type, x_type)
    atom_x = jnp.where(mask[..., None], jnp.concatenate([ft, zt], axis=-1), 0.0)
    given = jnp.where(joint[:, None], 0, batch["numbers"])
    v_atoms, v_lat = apply(atom_x, given, ~joint, lt, t)

    n_atoms = jnp.maximum(m.sum(-1), 1.0)
    coord_mse = (((v_atoms[..., :3] - target_f) ** 2).sum(-1) * m).sum(-1) / (3.0 * n_atoms)
    lat_mse = ((v_lat - (l1 - l0)) ** 2).mean(-1)
    type_mse = (((v_atoms[..., 3:] - (x_type - z0)) ** 2)[..., 0] * m).sum(-1) / n_atoms
    jf = joint.astype(jnp.float32)
    per_crystal = (
        cfg.coord_weight * coord_mse
        + cfg.lattice_weight * lat_mse
        + cfg.type_weight * jf * type_mse
    )
    # Implied clean coordinates, compared up to a global shift: comparable across processes.
    f1_hat = ft + (1.0 - tb) * v_atoms[..., :3] * COORD_STD
    err = wrap(f1_hat - f1)
    err = wrap(err - masked_mean(err, m)[:, None, :])
    l1_hat = lt + (1.0 - t[:, None]) * v_lat
    parts = {
        "coord_mse": coord_mse,
        "lattice_mse": lat_mse,
        "type_mse_joint": jf * type_mse,
        "joint_fraction": jf,
        "x0_frac_mae": (jnp.abs(err).sum(-1) * m).sum(-1) / (3.0 * n_atoms),
        "x0_lattice_mae": jnp.abs(l1_hat - l1).mean(-1),
    }
    return per_crystal, parts


def integrate(velocity: Callable, frac, lattice, type_channel, steps: int, method: str = "euler",
              anneal_coords: float = 0.0, anneal_lattice: float = 0.0):
    """Integrate ``velocity(frac, lattice, type_channel, t) -> (v_frac, v_lat, v_type)`` from
    0 to 1.

    Runs inside ``jax.lax.scan`` (one compiled loop). ``v_frac`` is in units of ``COORD_STD``.
    Returns the final (frac in [0, 1), lattice, type_channel).
    """
    if method not in INTEGRATORS:
        raise ValueError(f"unknown integrator {method!r}; use one of {INTEGRATORS}")
    if steps < 1:
        raise ValueError("sampling needs at least 1 step")
    dt = 1.0 / steps

    def scaled(state, t):
        f, lat, z = state
        vf, vl, vz = velocity(f, lat, z, jnp.full(f.shape[:1], t))
        return vf * COORD_STD * (1.0 + anneal_coords * t), vl * (1.0 + anneal_lattice * t), vz

    def advance(state, v, h):
        f, lat, z = state
        return jnp.mod(f + h * v[0], 1.0), lat + h * v[1], z + h * v[2]

    def body(state, i):
        t = i * dt
        v1 = scaled(state, t)
        if method == "euler":
            return advance(state, v1, dt), None
        v2 = scaled(advance(state, v1, dt), t + dt)
        return advance(state, tuple(0.5 * (a + c) for a, c in zip(v1, v2, strict=True)), dt), None

    (frac, lattice, type_channel), _ = jax.lax.scan(body, (frac, lattice, type_channel),
                                                    jnp.arange(steps, dtype=jnp.float32))
    frac = jnp.mod(frac, 1.0)
    return jnp.where(frac >= 1.0, 0.0, frac), lattice, type_channel
