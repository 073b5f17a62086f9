"""Inference bundles: the small, self-describing artefact that ships in ``genms/assets/models``.

A bundle is a folder with ``params.msgpack`` (flax serialisation, optionally cast to float16 or
bfloat16 to halve its size) and ``bundle.json`` (the task's extras: model config, normalisers,
data fingerprint, training provenance). Loading needs neither orbax nor the training code
(:mod:`genms.train.export` turns a run's checkpoint into a bundle).
Large parameter files are split into ``params.msgpack.partNN`` pieces under ``max_part_mb``.

:func:`save_bundle` writes a new bundle into a temporary folder beside the destination and then
swaps the two folders, so a reader (or a crash) sees the old bundle or the new one, never a mix.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from genms.models.dtypes import FLOAT_NAMES, parse_dtype

#: The file beside the parameters that describes them.
META_FILE = "bundle.json"


def _cast(params: Any, dtype: str) -> Any:
    target = parse_dtype(dtype, FLOAT_NAMES, "bundle dtype")
    if target == jnp.bfloat16:
        return jax.tree.map(lambda x: np.asarray(jnp.asarray(x, jnp.bfloat16)), params)
    return jax.tree.map(lambda x: np.asarray(x, dtype=target), params)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing folders in one step (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _replace_dir(new: Path, dest: Path) -> None:
    """Put folder ``new`` at ``dest``; the folder that was there is removed afterwards."""
    if not dest.exists():
        os.rename(new, dest)
        return
    if _exchange(new, dest):  # new now holds the old bundle
        shutil.rmtree(new, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old-"))
    os.rename(dest, old / dest.name)  # if a crash comes now, the old bundle is kept in `old`
    os.rename(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def save_bundle(path: str | Path, params: Any, extras: dict, dtype: str = "float32",
                max_part_mb: float = 15.0) -> Path:
    """Write the bundle at ``path``, replacing one that is there in a single swap (files of
    the old folder other than the parameters and ``bundle.json`` are carried over)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = serialization.msgpack_serialize(jax.tree.map(np.asarray, _cast(params, dtype)))
    meta = {
        **extras,
        "bundle": {
            "dtype": dtype,
            "n_params": int(sum(np.size(x) for x in jax.tree.leaves(params))),
        },
    }
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, (path.stat().st_mode & 0o7777) if path.is_dir() else (0o777 & ~umask))
        if path.is_dir():
            for item in path.iterdir():
                if item.name == META_FILE or item.name.startswith("params.msgpack"):
                    continue
                if item.is_dir():
                    shutil.copytree(item, tmp / item.name)
                else:
                    shutil.copy2(item, tmp / item.name)
        part = int(max_part_mb * 2**20)
        if len(blob) <= part:
            (tmp / "params.msgpack").write_bytes(blob)
        else:
            for i in range(0, len(blob), part):
                (tmp / f"params.msgpack.part{i // part:02d}").write_bytes(blob[i : i + part])
        (tmp / META_FILE).write_bytes(json.dumps(meta, indent=2, default=float).encode())
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_meta(path: str | Path) -> dict:
    """The ``bundle.json`` of the bundle in ``path`` (the parameters are not read)."""
    meta_file = Path(path) / META_FILE
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path} is not a model bundle (no {META_FILE})")
    return json.loads(meta_file.read_text())


def load_bundle(path: str | Path, dtype=np.float32) -> tuple[Any, dict]:
    """Params (cast back to ``dtype``) and the extras dict. Clear error when missing."""
    path = Path(path)
    meta = read_meta(path)
    parts = sorted(path.glob("params.msgpack.part*"))
    if parts:
        blob = b"".join(p.read_bytes() for p in parts)
    elif (path / "params.msgpack").is_file():
        blob = (path / "params.msgpack").read_bytes()
    else:
        raise FileNotFoundError(f"{path} has no params.msgpack")
    params = serialization.msgpack_restore(blob)
    params = jax.tree.map(lambda x: np.asarray(x, dtype=dtype), params)
    return params, meta


def params_checksum(path: str | Path) -> str:
    """The first 16 hex digits of the sha256 over the bundle's parameter files, in order."""
    h = hashlib.sha256()
    for f in sorted(Path(path).glob("params.msgpack*")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
