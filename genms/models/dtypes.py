"""Floating-point dtypes named in configs and bundles: one reader for every name.

``float32``, ``float16`` and ``bfloat16`` name themselves; ``auto`` is bfloat16 on a GPU or
TPU and float32 on the CPU. Each caller says which names it accepts (a compute dtype is never
float16, a stored bundle is never ``auto``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

#: The names of stored parameters (bundles) and of the energy GNN's matmuls.
FLOAT_NAMES = ("float32", "float16", "bfloat16")
#: The names of the denoisers' compute dtype.
COMPUTE_NAMES = ("float32", "bfloat16", "auto")
ACCELERATORS = ("gpu", "cuda", "rocm", "tpu")


def parse_dtype(name: str, allowed: Sequence[str] = FLOAT_NAMES, what: str = "dtype") -> np.dtype:
    """The dtype called ``name``; a name outside ``allowed`` is refused with a message that
    names ``what`` it is for."""
    if name not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {name!r}")
    if name == "auto":
        return jnp.dtype(jnp.bfloat16 if jax.default_backend() in ACCELERATORS else jnp.float32)
    return jnp.dtype(name)
