"""The executor a config names: :class:`SerialExecutor` or :class:`RayExecutor`."""

from __future__ import annotations

from genms.parallel.executor import Executor, ExecutorConfig, SerialExecutor
from genms.parallel.ray_executor import RayExecutor


def build_executor(cfg: ExecutorConfig) -> Executor:
    """The executor named by ``cfg.name`` (Ray itself is imported only when a Ray one starts)."""
    if cfg.name == "serial":
        return SerialExecutor(max_retries=cfg.max_retries)
    if cfg.name == "ray":
        return RayExecutor(cfg)
    raise ValueError(f"unknown executor {cfg.name!r}: use executor=serial or executor=ray")
