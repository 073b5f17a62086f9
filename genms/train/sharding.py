"""Data parallelism with ``jax.sharding``: one mesh axis ``data`` over the local devices.

Parameters are replicated; every batch leaf whose leading dimension divides by the device
count is split along it, other leaves are replicated. The same code runs on 1 GPU, several
GPUs or a TPU slice; multi-host runs call :func:`maybe_initialize_distributed` first.
"""

from __future__ import annotations

import logging
import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

log = logging.getLogger(__name__)


def maybe_initialize_distributed() -> None:
    """Join a multi-host job when launched under SLURM with several tasks (``jax.distributed``)."""
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and jax.process_count() == 1:
        try:
            jax.distributed.initialize()
            log.info("jax.distributed: process %d of %d", jax.process_index(), jax.process_count())
        except Exception as exc:  # noqa: BLE001 - single-host fallback is the right behaviour
            log.warning("jax.distributed.initialize failed (%s); running single-host", exc)


def make_mesh(n_devices: int | None = None) -> Mesh:
    devices = jax.devices()
    if n_devices is not None:
        if n_devices > len(devices):
            raise ValueError(
                f"train.devices={n_devices} but only {len(devices)} devices are visible"
            )
        devices = devices[:n_devices]
    return Mesh(np.array(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, leaf) -> NamedSharding:
    n = mesh.devices.size
    if np.ndim(leaf) >= 1 and np.shape(leaf)[0] % n == 0:
        return NamedSharding(mesh, PartitionSpec("data"))
    return replicated(mesh)


def shard_batch(mesh: Mesh, batch):
    return jax.tree.map(lambda x: jax.device_put(x, batch_sharding(mesh, x)), batch)
