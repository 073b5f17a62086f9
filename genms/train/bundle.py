"""Inference bundles: the small, self-describing artefact that ships in ``genms/assets/models``.

A bundle is a folder with ``params.msgpack`` (flax serialisation, optionally cast to float16 or
bfloat16 to halve its size) and ``bundle.json`` (the task's extras: model config, normalisers,
data fingerprint, training provenance). Loading needs neither orbax nor the training code.
Large parameter files are split into ``params.msgpack.partNN`` pieces under ``max_part_mb``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

_DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": None}


def _cast(params: Any, dtype: str) -> Any:
    if dtype not in _DTYPES:
        raise ValueError(f"bundle dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if dtype == "bfloat16":
        import jax.numpy as jnp

        return jax.tree.map(lambda x: np.asarray(jnp.asarray(x, jnp.bfloat16)), params)
    return jax.tree.map(lambda x: np.asarray(x, dtype=_DTYPES[dtype]), params)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def save_bundle(path: str | Path, params: Any, extras: dict, dtype: str = "float32",
                max_part_mb: float = 15.0) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("params.msgpack*"):
        old.unlink()
    blob = serialization.msgpack_serialize(jax.tree.map(np.asarray, _cast(params, dtype)))
    part = int(max_part_mb * 2**20)
    if len(blob) <= part:
        _atomic_write(path / "params.msgpack", blob)
    else:
        for i in range(0, len(blob), part):
            _atomic_write(path / f"params.msgpack.part{i // part:02d}", blob[i : i + part])
    meta = {**extras, "bundle": {"dtype": dtype, "n_params": int(sum(np.size(x) for x in jax.tree.leaves(params)))}}
    _atomic_write(path / "bundle.json", json.dumps(meta, indent=2, default=float).encode())
    return path


def load_bundle(path: str | Path, dtype=np.float32) -> tuple[Any, dict]:
    """Params (cast back to ``dtype``) and the extras dict. Clear error when missing."""
    path = Path(path)
    meta_file = path / "bundle.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path} is not a model bundle (no bundle.json)")
    parts = sorted(path.glob("params.msgpack.part*"))
    if parts:
        blob = b"".join(p.read_bytes() for p in parts)
    elif (path / "params.msgpack").is_file():
        blob = (path / "params.msgpack").read_bytes()
    else:
        raise FileNotFoundError(f"{path} has no params.msgpack")
    params = serialization.msgpack_restore(blob)
    params = jax.tree.map(lambda x: np.asarray(x, dtype=dtype), params)
    return params, json.loads(meta_file.read_text())


def export_from_run(run_dir: str | Path, out_path: str | Path, dtype: str = "float16",
                    use_ema: bool = True, step: int | None = None) -> Path:
    """Latest (or ``step``) checkpoint of a training run -> bundle."""
    from genms.train.checkpoint import Checkpointer

    ckpt = Checkpointer(run_dir)
    state, meta, step = ckpt.restore_raw(step)
    ckpt.close()
    params = state["ema_params"] if use_ema else state["params"]
    extras = dict(meta.get("extras", {}))
    extras["provenance"] = {"run_dir": str(run_dir), "step": step, "ema": use_ema,
                            "config": meta.get("config", {})}
    return save_bundle(out_path, params, extras, dtype=dtype)
