"""Typed configs: Hydra composes YAML, library code receives frozen dataclasses.

Each subsystem owns its dataclass schema (next to the code that uses it). A command's schema is
registered with Hydra's ConfigStore (:func:`register_schema`) and named first in the defaults of
its primary config, so Hydra checks keys and types while composing. At the command boundary
:func:`to_dataclass` turns the composed ``DictConfig`` into the schema's frozen dataclass (its
``__post_init__`` checks values): an unknown key, a wrong type or a bad value fails with a
message naming the key, before any work starts.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type."""


def escape_interpolation(text: str) -> str:
    """``text`` escaped so that OmegaConf reads it back literally (no ``${...}`` is resolved).

    A run of k backslashes before ``${`` becomes 2k+1 backslashes: k literal backslashes,
    then a literal ``${``. Backslashes elsewhere are literal in OmegaConf already.
    """
    return re.sub(r"(\\*)\$\{", lambda m: "\\" * (2 * len(m.group(1)) + 1) + "${", text)


def escape_container(value: Any) -> Any:
    """A plain (already resolved) container with every string escaped for OmegaConf."""
    if isinstance(value, str):
        return escape_interpolation(value)
    if isinstance(value, dict):
        return {k: escape_container(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(escape_container(v) for v in value)
    return value


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


def schema_node(cls: type) -> DictConfig:
    """The structured config of the dataclass ``cls``, writable so configs can merge into it."""
    schema = OmegaConf.structured(cls)
    _writable(schema)
    return schema


def register_schema(name: str, cls: type) -> None:
    """Store ``cls`` in Hydra's ConfigStore as ``name``: a primary config that lists ``name``
    first in its defaults is type-checked against ``cls`` while Hydra composes it."""
    ConfigStore.instance().store(name=name, node=schema_node(cls))


def to_dataclass(cls: type[T], node: DictConfig | dict | None) -> T:
    """Merge ``node`` onto the schema ``cls`` and return an instance of ``cls``.

    A ``DictConfig`` node is resolved first, against its own root (``run_dir:
    runs/${task_name}/...`` in ``cfg.train`` needs the top-level ``task_name``). A plain dict is
    data (resolved already): its strings are taken literally, so a ``${...}`` in a value (a
    request's text, a path) is never interpolated a second time.
    """
    schema = schema_node(cls)
    try:
        if isinstance(node, DictConfig):
            node = OmegaConf.to_container(node, resolve=True)
        node = escape_container(node)
        merged = OmegaConf.merge(schema, node or {})
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except Exception as exc:  # omegaconf raises ValidationError / ConfigKeyError subclasses
        raise ConfigError(f"invalid {cls.__name__} config: {exc}") from exc


def typed(cls: type[T], value: T | DictConfig | dict | None) -> T:
    """``value`` itself when it is a ``cls``, else its fields (a dict or ``DictConfig``; ``None``
    for the defaults) as a ``cls``."""
    if isinstance(value, cls):
        return value
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    return to_dataclass(cls, value or {})


def to_dict(obj: Any) -> dict:
    """Dataclass (or DictConfig) -> plain JSON-able dict (for checkpoints and logs)."""
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)  # type: ignore[return-value]
    return dict(obj)
