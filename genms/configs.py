"""Typed configs: Hydra composes YAML, library code receives frozen dataclasses.

Each subsystem owns its dataclass schema (next to the code that uses it). At the command
boundary :func:`to_dataclass` validates a ``DictConfig`` node against the schema: an unknown
key or a wrong type fails with a message naming the key, before any work starts.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type."""


def to_dataclass(cls: type[T], node: DictConfig | dict | None) -> T:
    """Merge ``node`` onto the schema ``cls`` and return an instance of ``cls``."""
    schema = OmegaConf.structured(cls)
    try:
        merged = OmegaConf.merge(schema, node or {})
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except Exception as exc:  # omegaconf raises ValidationError / ConfigKeyError subclasses
        raise ConfigError(f"invalid {cls.__name__} config: {exc}") from exc


def to_dict(obj: Any) -> dict:
    """Dataclass (or DictConfig) -> plain JSON-able dict (for checkpoints and logs)."""
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)  # type: ignore[return-value]
    return dict(obj)
