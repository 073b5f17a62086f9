"""A numpy generator from a StructureSampler key (a JAX PRNG key, an int seed or a Generator)."""

from __future__ import annotations

import jax
import numpy as np


def generator_from_key(key: object) -> np.random.Generator:
    """``np.random.default_rng`` seeded by ``key``'s bits (JAX key, int seed or a Generator)."""
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, (int, np.integer)):
        return np.random.default_rng(int(key))
    try:
        data = np.asarray(
            jax.random.key_data(key)
            if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
            else key
        )
    except (AttributeError, TypeError):
        data = np.asarray(key)
    return np.random.default_rng(data.astype(np.uint64).ravel().tolist())
