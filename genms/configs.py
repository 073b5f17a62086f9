"""Typed configs: Hydra composes YAML, library code receives frozen dataclasses.

Each subsystem owns its dataclass schema (next to the code that uses it). At the command
boundary :func:`to_dataclass` validates a ``DictConfig`` node against the schema: an unknown
key or a wrong type fails with a message naming the key, before any work starts.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type."""


def _writable(node: DictConfig | ListConfig) -> None:
    """Clear the read-only flag OmegaConf puts on every node of a frozen dataclass schema
    (merging into a nested frozen dataclass would fail otherwise)."""
    OmegaConf.set_readonly(node, False)
    if isinstance(node, DictConfig) and not node._is_none():
        for key in node.keys():
            child = node._get_node(key)
            if isinstance(child, DictConfig | ListConfig):
                _writable(child)
            elif child is not None:
                child._set_flag("readonly", False)


def to_dataclass(cls: type[T], node: DictConfig | dict | None) -> T:
    """Merge ``node`` onto the schema ``cls`` and return an instance of ``cls``."""
    schema = OmegaConf.structured(cls)
    _writable(schema)
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
