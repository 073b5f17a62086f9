"""Orbax checkpoints of the training state with the run's config and the task's extras.

Layout: ``{run_dir}/checkpoints/<step>/{state,meta}``. ``meta`` is JSON holding the resolved
config and :meth:`Task.checkpoint_extras` (model config, normalisers, data fingerprint), so a
checkpoint describes itself and inference rebuilds the model from it alone. Saves are
synchronous and atomic (orbax writes to a temporary directory and renames it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


def latest_checkpoint_step(run_dir: str | Path) -> int | None:
    """The newest finished checkpoint step of ``run_dir`` (its ``checkpoints/<step>`` folders;
    orbax writes under a temporary name and renames, so a bare number is a finished save),
    read from the folder names alone; None when there is none."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return None
    steps = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(steps, default=None)


class Checkpointer:
    def __init__(self, run_dir: str | Path, keep: int = 3) -> None:
        if not isinstance(keep, int) or keep < 1:  # orbax would delete every checkpoint with 0
            raise ValueError(f"train.keep={keep} is out of range: it must be at least 1")
        self.directory = Path(run_dir).resolve() / "checkpoints"
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, enable_async_checkpointing=False
            ),
            item_names=("state", "meta"),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: Any, meta: dict) -> None:
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        self.manager.wait_until_finished()

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict, int]:
        """Restore into the structure/shardings of ``abstract_state`` (``jax.eval_shape`` tree)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
            ),
        )
        return restored["state"], dict(restored["meta"]), int(step)

    def restore_meta(self, step: int | None = None) -> dict:
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        restored = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return dict(restored["meta"])

    def restore_raw(self, step: int | None = None) -> tuple[Any, dict, int]:
        """Restore without a target structure (numpy arrays), e.g. to export a bundle."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()),
        )
        state = jax.tree.map(lambda x: x, restored["state"])
        return state, dict(restored["meta"]), int(step)

    def close(self) -> None:
        self.manager.close()
