"""The ``Task`` protocol: the only contract between a model and the shared training loop.

A task owns its model, its loss and how to build a host batch (a pytree of numpy arrays with
a leading batch axis of fixed size) from dataset indices. The loop owns everything else:
optimiser, EMA, sharding over devices, checkpoints, resume, metrics and the NaN guard.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax

Batch = Any  # pytree of arrays, leading axis = batch (or padded graph budget)
Params = Any


class Task(Protocol):
    #: short name used in run directories and metric prefixes ("diffusion", "energy")
    name: str

    def num_examples(self, split: str) -> int:
        """Number of examples in ``split`` ("train" or "val")."""
        ...

    def make_batch(self, split: str, indices: list[int], batch_size: int) -> Batch:
        """Host batch for ``indices`` padded to ``batch_size`` examples (fixed shapes).

        Padded examples must carry zero weight in the loss/metrics (masks).
        """
        ...

    def init(self, key: jax.Array, batch: Batch) -> Params:
        """Initial parameters."""
        ...

    def loss(
        self, params: Params, batch: Batch, key: jax.Array, train: bool
    ) -> tuple[jax.Array, dict]:
        """Scalar loss (mean over real examples) and a dict of scalar metrics."""
        ...

    def eval_metrics(self, params: Params, batch: Batch, key: jax.Array) -> dict:
        """Per-batch metric *sums* and a ``count`` entry; the loop divides sums by counts."""
        ...

    def checkpoint_extras(self) -> dict:
        """JSON-able data saved beside the params: model config, normalisers, data fingerprint."""
        ...
