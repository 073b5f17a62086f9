"""The training state carried through the jitted step."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax


@flax.struct.dataclass
class TrainState:
    step: jax.Array  # int32 scalar: completed optimiser steps
    params: Any
    opt_state: Any
    ema_params: Any  # same tree as params (a copy when EMA is off, never updated then)
    # First step whose loss or gradient was not finite (-1: none). Updates of such steps are
    # skipped inside the jitted step, and the loop stops at the next host sync.
    first_bad_step: jax.Array
