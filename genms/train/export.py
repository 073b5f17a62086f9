"""A training run's checkpoint -> an inference bundle (:mod:`genms.train.bundle`).

Kept apart from the bundle reader so that loading a bundle never imports orbax.
"""

from __future__ import annotations

from pathlib import Path

from genms.train.bundle import save_bundle
from genms.train.checkpoint import Checkpointer


def export_from_run(run_dir: str | Path, out_path: str | Path, dtype: str = "float16",
                    use_ema: bool = True, step: int | None = None) -> Path:
    """Latest (or ``step``) checkpoint of a training run -> bundle."""
    ckpt = Checkpointer(run_dir)
    state, meta, step = ckpt.restore_raw(step)
    ckpt.close()
    params = state["ema_params"] if use_ema else state["params"]
    extras = dict(meta.get("extras", {}))
    extras["provenance"] = {"run_dir": str(run_dir), "step": step, "ema": use_ema,
                            "config": meta.get("config", {})}
    return save_bundle(out_path, params, extras, dtype=dtype)
