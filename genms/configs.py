"""Typed configs: Hydra composes YAML, library code receives frozen dataclasses.

Each subsystem owns its dataclass schema (next to the code that uses it). A command's schema is
registered with Hydra's ConfigStore (:func:`register_schema`) and named first in the defaults of
its primary config, so Hydra checks keys and types while composing. At the command boundary
:func:`to_dataclass` turns the composed ``DictConfig`` into the schema's frozen dataclass (its
``__post_init__`` checks values): an unknown key, a wrong type or a bad value fails with a
message naming the key, before any work starts.

Every numeric option is checked against a range before any work starts: a field declares its
range as metadata (``field(default=8, metadata=in_range(1, 10_000))``, or :func:`ranged`), a
number without one must at least be finite (NaN and ±inf are refused). :func:`range_problems`
checks a whole config tree at once and lists every bad value, not only the first.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
from dataclasses import dataclass, is_dataclass
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing, unknown, of the wrong type or out of range.

    ``problems`` lists one line per bad value (empty: the message is the one line)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(frozen=True)
class Range:
    """The values a numeric option may take: ``lo``..``hi`` (``None``: unbounded), each end
    closed unless marked open. NaN and ±inf are never in a range."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def __str__(self) -> str:
        lo = "-inf" if self.lo is None else _number(self.lo)
        hi = "inf" if self.hi is None else _number(self.hi)
        left = "(" if self.lo_open or self.lo is None else "["
        right = ")" if self.hi_open or self.hi is None else "]"
        return f"{left}{lo}, {hi}{right}"


FINITE = Range()


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def in_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
             hi_open: bool = False) -> dict:
    """Field metadata: the option (each element of a list, each value of a dict) must lie in
    the range; ``None`` stays allowed where the field's type allows it."""
    return {"range": Range(lo, hi, lo_open, hi_open)}


def ranged(default: Any, lo: float | None = None, hi: float | None = None, **kw: Any) -> Any:
    """A dataclass field with ``default`` and :func:`in_range` metadata."""
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata=in_range(lo, hi, **kw))
    return dataclasses.field(default=default, metadata=in_range(lo, hi, **kw))


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation that cannot be evaluated here: check values only
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _dataclass_of(tp: Any) -> type | None:
    """The dataclass in a field's type (``X``, ``X | None``), or None."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    for arg in typing.get_args(tp):
        if dataclasses.is_dataclass(arg) and isinstance(arg, type):
            return arg
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def range_problems(cls: type, data: Any, prefix: str = "") -> list[str]:
    """One line per option of ``data`` (a plain dict of the dataclass ``cls``'s fields, nested
    dataclasses as dicts) that is out of its range, not finite, or not a number where a
    range is declared. Keys missing from ``data`` and interpolations (``${...}``) are skipped."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        data = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    if not isinstance(data, dict):
        return []
    hints = _hints(cls)
    problems: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, key = data[f.name], f"{prefix}{f.name}"
        sub = _dataclass_of(hints.get(f.name, f.type))
        if sub is not None and (isinstance(value, dict) or dataclasses.is_dataclass(value)):
            problems += range_problems(sub, value, f"{key}.")
            continue
        if sub is not None and isinstance(value, list | tuple):  # a list of dataclasses
            for i, item in enumerate(value):
                problems += range_problems(sub, item, f"{key}[{i}].")
            continue
        rng: Range | None = f.metadata.get("range")
        items: list[tuple[str, Any]]
        if isinstance(value, dict):
            items = [(f"{key}.{k}", v) for k, v in value.items()]
        elif isinstance(value, list | tuple):
            items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(key, value)]
        for name, v in items:
            if v is None or (isinstance(v, str) and "${" in v):
                continue
            if not _is_number(v):
                if rng is not None and not isinstance(v, dict | list | tuple):
                    problems.append(f"{name}={_show(v)} is not a number: it must be in {rng}")
                continue
            check = rng or FINITE
            if not check.contains(float(v)):
                problems.append(f"{name}={_show(v)} is out of range: it must be "
                                + (f"in {check}" if rng else "a finite number"))
    return problems


def check_ranges(obj: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` listing every out-of-range option of the dataclass ``obj``
    (for ``__post_init__``)."""
    problems = range_problems(type(obj), obj, prefix)
    if problems:
        raise ConfigError("; ".join(problems), problems)


def _message_lines(exc: BaseException) -> list[str]:
    return [ln.strip() for ln in str(exc).splitlines()
            if ln.strip() and ln.strip() != "None" and "$VALUE" not in ln]


def one_line(exc: BaseException, prefix: str = "") -> str:
    """An OmegaConf/Hydra error as one line (with its cause's first line when it says only
    which override failed), the key it names last."""
    lines = _message_lines(exc)
    key = next((ln.split("full_key:", 1)[1].strip() for ln in lines if "full_key:" in ln), "")
    detail = [ln.rstrip(".") for ln in lines if not ln.startswith(
        ("full_key:", "object_type=", "reference_type=", "See https://"))]
    cause = exc.__cause__
    if len(detail) <= 1 and cause is not None:
        more = [ln for ln in _message_lines(cause) if not ln.startswith(("full_key:", "object_"))]
        detail += [ln.rstrip(".") for ln in more[:1]]
    head = "; ".join(dict.fromkeys(detail)) or "invalid value"
    key = f"{prefix}{key}" if key else ""
    return head + (f" (key {key})" if key and key not in head else "")


def check_problems(merged: DictConfig) -> list[str]:
    """The problem the checks across fields (``__post_init__``) find in a merged config whose
    values are each in range, as one line each; none when a value cannot be resolved here (an
    interpolation into another part of the config: the command checks it when it builds it)."""
    try:
        OmegaConf.to_object(merged)
    except OmegaConfBaseException:
        return []
    except ConfigError as exc:
        return exc.problems or [one_line(exc)]
    except ValueError as exc:
        return [one_line(exc)]
    return []


def config_problems(cls: type, node: Any, prefix: str = "") -> list[str]:
    """Every problem of ``node`` as a ``cls`` config: one line per key or type the schema
    refuses and per value out of its range; when every value is in range, the checks across
    fields of the dataclasses (``__post_init__``: ``model.width`` a multiple of ``model.heads``)."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    node = node if node is not None else {}
    try:
        merged = OmegaConf.merge(schema_node(cls), node)
        problems = range_problems(cls, OmegaConf.to_container(merged, resolve=False), prefix)
        return problems or check_problems(merged)
    except Exception:
        if not isinstance(node, dict):
            raise
    # some key fails: check key by key (nested dataclasses recursively) to report every one
    hints = _hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    problems: list[str] = []
    for k, v in node.items():
        f = by_name.get(k) if isinstance(k, str) else None
        sub = _dataclass_of(hints.get(k, f.type)) if f is not None else None
        if sub is not None and isinstance(v, dict):
            problems += config_problems(sub, v, f"{prefix}{k}.")
            continue
        try:
            merged = OmegaConf.merge(schema_node(cls), {k: v})
            part = OmegaConf.to_container(merged, resolve=False)
            problems += range_problems(cls, {k: part[k]}, prefix)
        except Exception as exc:
            problems.append(one_line(exc, prefix))
    return problems


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


@functools.cache
def _unfrozen(cls: type) -> type:
    """A twin of the frozen dataclass ``cls`` with the same fields, defaults and types."""
    hints = typing.get_type_hints(cls)
    fields = [(f.name, hints[f.name],
               dataclasses.field(default=f.default, default_factory=f.default_factory,
                                 metadata=f.metadata))
              for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, fields)


def _writable_dataclass_lists(node: DictConfig) -> None:
    """Let Hydra override the elements of every list of frozen dataclasses under ``node``.

    OmegaConf marks each element of a ``list[FrozenDataclass]`` read-only, so an override such as
    ``families.0.formula_units=[2]`` would fail. The elements are typed with an unfrozen twin
    of the dataclass instead; ``to_dataclass`` builds the frozen one before any work starts.
    """
    for key in list(node.keys()):
        child = node._get_node(key)
        if isinstance(child, ListConfig) and not child._is_none():
            element = child._metadata.element_type
            if is_dataclass(element) and element.__dataclass_params__.frozen:
                twin = _unfrozen(element)
                items = OmegaConf.to_container(child)
                child._metadata.element_type = twin
                child._metadata.ref_type = list[twin]
                node[key] = [twin(**item) for item in items]
        elif isinstance(child, DictConfig) and not child._is_none():
            _writable_dataclass_lists(child)


def register_schema(name: str, cls: type) -> None:
    """Store ``cls`` in Hydra's ConfigStore as ``name``: a primary config that lists ``name``
    first in its defaults is type-checked against ``cls`` while Hydra composes it."""
    schema = schema_node(cls)
    _writable_dataclass_lists(schema)
    ConfigStore.instance().store(name=name, node=schema)


def to_dataclass(cls: type[T], node: DictConfig | dict | None) -> T:
    """Merge ``node`` onto the schema ``cls`` and return an instance of ``cls``.

    A ``DictConfig`` node is resolved first, against its own root (``run_dir:
    runs/${task_name}/...`` in ``cfg.train`` needs the top-level ``task_name``). A plain dict is
    data (resolved already): its strings are taken literally, so a ``${...}`` in a value (a
    request's text, a path) is never interpolated a second time.
    """
    schema = schema_node(cls)
    prefix = ""
    if isinstance(node, DictConfig):
        full_key = node._get_full_key(None) if node._get_parent() is not None else ""
        prefix = f"{full_key}." if full_key else ""
    prefix = prefix or (f"{cls.CONFIG_KEY}." if getattr(cls, "CONFIG_KEY", "") else "")
    try:
        if isinstance(node, DictConfig):
            node = OmegaConf.to_container(node, resolve=True)
        node = escape_container(node)
        merged = OmegaConf.merge(schema, node or {})
        problems = range_problems(cls, OmegaConf.to_container(merged, resolve=False), prefix)
    except Exception as exc:  # omegaconf raises ValidationError / ConfigKeyError subclasses
        raise ConfigError(f"invalid {cls.__name__} config: {exc}") from exc
    if problems:
        raise ConfigError("; ".join(problems), problems)
    try:
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except Exception as exc:
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
