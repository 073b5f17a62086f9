"""A tiny masked linear-regression task used to test the shared loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


class ToyTask:
    name = "toy"

    def __init__(
        self, n: int = 64, dim: int = 4, seed: int = 0, nan_after: int | None = None
    ) -> None:
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(n, dim)).astype(np.float32)
        self.w = rng.normal(size=(dim,)).astype(np.float32)
        self.y = self.x @ self.w + 0.5
        self.nan_after = nan_after

    def num_examples(self, split: str) -> int:
        return len(self.x) if split == "train" else 16

    def make_batch(self, split, indices, batch_size):
        idx = np.zeros(batch_size, np.int64)
        idx[: len(indices)] = indices
        mask = np.zeros(batch_size, np.float32)
        mask[: len(indices)] = 1.0
        return {"x": self.x[idx], "y": self.y[idx], "mask": mask}

    def init(self, key, batch):
        return {"w": jnp.zeros(self.x.shape[1]), "b": jnp.zeros(())}

    def _err(self, params, batch):
        pred = batch["x"] @ params["w"] + params["b"]
        return (pred - batch["y"]) ** 2 * batch["mask"]

    def loss(self, params, batch, key, train):
        loss = self._err(params, batch).sum() / jnp.maximum(batch["mask"].sum(), 1.0)
        if self.nan_after is not None:
            # becomes NaN once the bias has moved away from zero (a few steps in)
            loss = jnp.where(jnp.abs(params["b"]) > self.nan_after, jnp.nan, loss)
        noise = jax.random.normal(key, ()) * 0.0  # keys must be usable inside the step
        return loss + noise, {"mse": loss}

    def eval_metrics(self, params, batch, key):
        return {"mse": self._err(params, batch).sum(), "count": batch["mask"].sum()}

    def checkpoint_extras(self):
        return {
            "model": {"dim": int(self.x.shape[1])},
            "normalizers": {"y_mean": float(self.y.mean())},
        }
