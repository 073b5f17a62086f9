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
``1 + s·t`` (the "anti-annealing" of FlowMM), which sharpens the end of the path, capped so that
no step moves past the end point it predicts (:func:`anneal_factor`).
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


def anneal_factor(strength: float, t, start, h: float, cap: bool = True):
    """Anti-annealing factor ``1 + s·t`` of a velocity evaluated at ``t`` for a step of size ``h``
    that starts at ``start``, capped at ``(1 − start) / h``.

    On the straight path the velocity at ``t`` is ``(x̂_1 − x_t) / (1 − t)``, so a step moves
    ``factor · h / (1 − t)`` of the way to the predicted end point. The cap keeps that fraction at
    most 1: a step never jumps past the predicted end point, and the last step lands on it. An
    uncapped ``s = 10`` moves 11 times past it at the end and leaves every atom jittered
    (``cap=False``: the uncapped factor, as sampled before the cap existed).
    """
    if not cap:
        return 1.0 + strength * t
    return jnp.minimum(1.0 + strength * t, (1.0 - start) / h)


def renoise(state, predicted, t, h: float, churn: float, key):
    """Replace part of the noise that the state at ``t`` still carries by fresh noise, keeping
    the end point ``predicted`` (x̂_1) and the position on the path.

    On the straight path ``x_t = t·x̂_1 + (1 − t)·ε``; the implied ε is mixed as
    ``ρ·ε + √(1 − ρ²)·ξ`` with ``ρ² = 1 − min(1, churn·h)``, so the noise replaced per unit time
    does not depend on the number of steps. Lattice and type channels use a standard normal ξ.
    The coordinates live on the torus, where the path is ``x_t = x̂_1 − (1 − t)·d`` (mod 1) with
    ``d = wrap(x̂_1 − ε)``; d is mixed the same way with a normal of the wrapped difference's
    standard deviation.
    """
    f, lat, z = state
    f1, l1, z1 = predicted
    remain = jnp.maximum(1.0 - t, h)
    rho = jnp.sqrt(jnp.maximum(0.0, 1.0 - churn * h))
    fresh = jnp.sqrt(1.0 - rho**2)
    k_f, k_l, k_z = jax.random.split(key, 3)
    d = wrap(f1 - f) / remain
    d = rho * d + fresh * COORD_STD * jax.random.normal(k_f, f.shape)
    eps_l = (lat - t * l1) / remain
    eps_z = (z - t * z1) / remain
    return (
        jnp.mod(f1 - remain * d, 1.0),
        t * l1 + remain * (rho * eps_l + fresh * jax.random.normal(k_l, lat.shape)),
        t * z1 + remain * (rho * eps_z + fresh * jax.random.normal(k_z, z.shape)),
    )


def integrate(velocity: Callable, frac, lattice, type_channel, steps: int, method: str = "euler",
              anneal_coords: float = 0.0, anneal_lattice: float = 0.0, anneal_cap: bool = True,
              churn: float = 0.0, churn_until: float = 0.7, key=None):
    """Integrate ``velocity(frac, lattice, type_channel, t) -> (v_frac, v_lat, v_type)`` from
    0 to 1.

    ``anneal_cap`` (default): anti-annealing never moves past the predicted end point, and the
    last Heun step is an Euler step, so the atoms end where the network puts them. ``False``
    reproduces the uncapped sampler: its end jitter is larger (RMSE 0.18 against 0.10), and it
    keeps StructureMatcher from reducing a cell to a smaller primitive cell
    (docs/benchmarks/diffusion.md).

    ``churn`` > 0 makes the sampler stochastic: after each step that ends before
    ``churn_until``, part of the remaining noise is drawn afresh around the end point that the
    step's first network call predicts (:func:`renoise`; needs ``key``). ``churn = 0`` is the
    deterministic sampler, bit for bit.

    Runs inside ``jax.lax.scan`` (one compiled loop). ``v_frac`` is in units of ``COORD_STD``.
    Returns the final (frac in [0, 1), lattice, type_channel).
    """
    if method not in INTEGRATORS:
        raise ValueError(f"unknown integrator {method!r}; use one of {INTEGRATORS}")
    if steps < 1:
        raise ValueError("sampling needs at least 1 step")
    dt = 1.0 / steps

    if churn > 0.0 and key is None:
        raise ValueError("a stochastic sampler (churn > 0) needs a PRNG key")

    def scaled(state, t, start):
        """The annealed velocity at ``t`` for the step that starts at ``start``, and the end
        point the unscaled velocity predicts."""
        f, lat, z = state
        vf, vl, vz = velocity(f, lat, z, jnp.full(f.shape[:1], t))
        vf = vf * COORD_STD
        ahead = 1.0 - t
        predicted = (jnp.mod(f + ahead * vf, 1.0), lat + ahead * vl, z + ahead * vz)
        return (vf * anneal_factor(anneal_coords, t, start, dt, anneal_cap),
                vl * anneal_factor(anneal_lattice, t, start, dt, anneal_cap), vz), predicted

    def advance(state, v, h):
        f, lat, z = state
        return jnp.mod(f + h * v[0], 1.0), lat + h * v[1], z + h * v[2]

    def stir(state, predicted, i):
        if churn <= 0.0:
            return state
        t_next = (i + 1) * dt
        step_key = jax.random.fold_in(key, i.astype(jnp.uint32))
        stirred = renoise(state, predicted, t_next, dt, churn, step_key)
        return tuple(jnp.where(t_next < churn_until, a, b)
                     for a, b in zip(stirred, state, strict=True))

    def body(state, i):
        t = i * dt
        v1, predicted = scaled(state, t, t)
        if method == "euler":
            return stir(advance(state, v1, dt), predicted, i), None
        v2, _ = scaled(advance(state, v1, dt), t + dt, t)
        # the last step is an Euler step (as in EDM's Heun sampler): the field is not trained at
        # t = 1, and its value there would move the atoms off the end point the step predicts
        last = (i == steps - 1) & anneal_cap
        v = tuple(jnp.where(last, a, 0.5 * (a + c)) for a, c in zip(v1, v2, strict=True))
        return stir(advance(state, v, dt), predicted, i), None

    (frac, lattice, type_channel), _ = jax.lax.scan(body, (frac, lattice, type_channel),
                                                    jnp.arange(steps, dtype=jnp.float32))
    frac = jnp.mod(frac, 1.0)
    return jnp.where(frac >= 1.0, 0.0, frac), lattice, type_channel
