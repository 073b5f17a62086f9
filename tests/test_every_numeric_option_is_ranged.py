"""Every numeric option has a checked range: each int/float field of every config schema a
command is checked against (its ``schema``, each ``SECTIONS`` node, and every dataclass nested
in them) declares ``ranged(...)`` metadata, and every number in ``conf/`` (each group option
composed in turn) is backed by such a field, so no value escapes ``check_config``."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import types
import typing
from collections.abc import Mapping

import pytest
from omegaconf import OmegaConf

from genms.cli import (
    COMMANDS,
    CONF_DIR,
    SECTIONS,
    compose,
    config_problems,
    group_choices,
    load_target,
)
from genms.paths import REPO_ROOT
from tests.test_config_validation import assert_fails_before_any_work

_UNIONS = (typing.Union, types.UnionType)
# Containers of numbers whose elements a range checks one by one (each list item, dict value).
_CONTAINERS = (list, tuple, dict, *_UNIONS)


def _schemas(config_name: str) -> dict[str, type | Mapping[str, type]]:
    """Node -> schema (a dataclass, or a mapping of them picked by the node's ``arch``) of the
    command whose primary config is ``config_name``; ``""``: the whole config."""
    out: dict[str, type | Mapping[str, type]] = {}
    for cmd in COMMANDS.values():
        if cmd.config_name == config_name and cmd.schema:
            out[""] = load_target(cmd.schema)
    for key, target in SECTIONS.get(config_name, {}).items():
        out["" if key == "." else key] = load_target(target)
    return out


def _leaf_types(tp) -> list:
    """The element types of a field's type: ``int | None`` -> [int], ``list[float]`` -> [float],
    ``dict[str, float]`` -> [float], ``list[X]`` -> [X]."""
    origin = typing.get_origin(tp)
    if origin in _CONTAINERS:
        args = typing.get_args(tp)
        if origin is dict:
            args = args[1:]
        return [leaf for arg in args if arg is not Ellipsis for leaf in _leaf_types(arg)]
    return [tp]


def _dataclasses_in(tp) -> list[type]:
    return [t for t in _leaf_types(tp) if dataclasses.is_dataclass(t) and isinstance(t, type)]


def _named_configs() -> list[tuple[type, str]]:
    """Every dataclass under genms/ named ``*Config`` (the schemas of raw commands such as
    ``genms sweep`` and of library settings too), found without importing every module."""
    out = []
    for path in sorted((REPO_ROOT / "genms").rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = [node.name for node in tree.body if isinstance(node, ast.ClassDef)
                 and node.name.endswith("Config")
                 and any("dataclass" in ast.unparse(d) for d in node.decorator_list)]
        if names:
            module = importlib.import_module(
                ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts))
            out += [(getattr(module, name), module.__name__) for name in names]
    return out


def _config_classes() -> dict[type, str]:
    """Every dataclass a command's values are checked against, and every ``*Config``
    dataclass -> where it is used."""
    seen: dict[type, str] = {}
    todo: list[tuple[type, str]] = []
    names = {cmd.config_name for cmd in COMMANDS.values()}
    for name in sorted(names):
        for node, schema in _schemas(name).items():
            classes = schema.values() if isinstance(schema, Mapping) else [schema]
            todo += [(cls, f"{name}.{node}" if node else name) for cls in classes]
    todo = _named_configs() + todo  # popped last: the command's name wins
    while todo:
        cls, where = todo.pop()
        if cls in seen:
            continue
        seen[cls] = where
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            todo += [(sub, f"{where}.{f.name}") for sub in _dataclasses_in(hints[f.name])]
    return seen


def _unranged(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls) if "range" not in f.metadata
            and any(t in (int, float) for t in _leaf_types(hints[f.name]))]


def test_every_numeric_field_of_every_config_schema_is_ranged():
    classes = _config_classes()
    names = {c.__name__ for c in classes}
    # the schemas this test is meant to reach (a SECTIONS or schema change must keep them)
    assert {"DenoiserConfig", "PeriodicDenoiserConfig", "EnergyGNNConfig", "LLMConfig",
            "RetrievalConfig", "DiffusionConfig", "EnergyTaskConfig", "CSPEvalConfig",
            "DFTSettings", "GenerateConfig", "EvalMetricsConfig", "ValMatchConfig",
            "SweepConfig", "MatchConfig"} <= names, sorted(names)
    missing = {f"{cls.__module__}.{cls.__qualname__} ({where})": bad
               for cls, where in classes.items() if (bad := _unranged(cls))}
    assert not missing, "numeric fields without ranged(...) metadata:\n" + "\n".join(
        f"  {k}: {v}" for k, v in sorted(missing.items()))


def _field_of(schema, parts: list[str], node: dict):
    """The dataclass field that backs the config value at ``parts`` (``node``: the container the
    path is read from, for picking an ``arch``), or None."""
    if isinstance(schema, Mapping):
        arch = node.get("arch") if isinstance(node, dict) else None
        schema = schema.get(arch) if arch is not None else next(iter(schema.values()))
        if schema is None:
            return None
    cls, f = schema, None
    i = 0
    while i < len(parts):
        fields = {x.name: x for x in dataclasses.fields(cls)}
        f = fields.get(parts[i])
        if f is None:
            return None
        tp = typing.get_type_hints(cls)[f.name]
        i += 1
        if i < len(parts) and typing.get_origin(_strip_optional(tp)) in (list, tuple, dict):
            i += 1  # a list index or dict key: the field's element
        subs = _dataclasses_in(tp)
        if i < len(parts):
            if not subs:
                return None
            cls = subs[0]
    return f


def _strip_optional(tp):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in _UNIONS and len(args) == 1 else tp


def _numbers(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, (*path, str(i)))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield list(path)


def _variants(config_name: str) -> list[list[str]]:
    """The command's config as composed, then with each other option of each of its groups
    (less the presets whose header says they are only for other commands: ``# Only for: ...``)."""
    cmd = next(c for c in COMMANDS.values() if c.config_name == config_name)
    out: list[list[str]] = [[]]
    for item in OmegaConf.load(CONF_DIR / f"{config_name}.yaml").get("defaults", []):
        if not isinstance(item, Mapping):
            continue
        (group, chosen), = item.items()
        group = str(group).removeprefix("override ").strip("/")
        if "/" in group or group == "hydra" or not (CONF_DIR / group).is_dir():
            continue
        out += [[f"{group}={option}"] for option in group_choices(group, cmd) if option != chosen]
    return out


CONFIG_NAMES = sorted({c.config_name for c in COMMANDS.values() if not c.raw})


@pytest.mark.parametrize("config_name", CONFIG_NAMES)
def test_every_number_in_conf_is_backed_by_a_ranged_field(config_name):
    """... and every shipped config (each group option) is within its ranges."""
    cmd = next(c for c in COMMANDS.values() if c.config_name == config_name)
    schemas = _schemas(config_name)
    unchecked: dict[str, set[str]] = {}
    for overrides in _variants(config_name):
        composed = compose(config_name, overrides)
        assert not config_problems(cmd, composed), overrides
        cfg = OmegaConf.to_container(composed, resolve=False)
        cfg.pop("hydra", None)
        for path in _numbers(cfg):
            f = None
            for node, schema in schemas.items():
                prefix = node.split(".") if node else []
                if path[:len(prefix)] == prefix and len(path) > len(prefix):
                    sub = cfg
                    for part in prefix:
                        sub = sub[part]
                    f = _field_of(schema, path[len(prefix):], sub)
                    if f is not None:
                        break
            if f is None or "range" not in f.metadata:
                key = ".".join("[]" if p.isdigit() else p for p in path).replace(".[]", "[]")
                why = "no schema field" if f is None else "a field without a range"
                unchecked.setdefault(f"{key}: {why}", set()).add(" ".join(overrides) or "defaults")
    assert not unchecked, "numbers that no range checks:\n" + "\n".join(
        f"  {k} (with {', '.join(sorted(v))})" for k, v in sorted(unchecked.items()))


@pytest.mark.parametrize("argv, lines", [
    (["train", "diffusion", "debug=diffusion_v2_tiny", "model.width=0", "model.dropout=1.0"],
     ["model.width=0 is out of range: it must be in [1, 65536]",
      "model.dropout=1.0 is out of range: it must be in [0, 1)"]),
    (["train", "diffusion", "debug=diffusion_v2_tiny", "model.width=30"],
     ["model.width (30) must be a multiple of model.heads (4)"]),
    (["train", "diffusion", "debug=diffusion_tiny", "model.head_dim=48"],
     ["model.head_dim (48) must divide the width of every level"]),
    (["train", "diffusion", "model=denoiser_v2", "diffusion=flow", "model.arch=foo"],
     ["model.arch='foo' is not one of: set_transformer, periodic"]),
    (["train", "diffusion", "debug=diffusion_tiny", "time_budget_fraction=0", "val_match.n=-1"],
     ["time_budget_fraction=0.0 is out of range", "val_match.n=-1 is out of range"]),
    (["train", "energy", "min_epochs=-1", "task.model.cutoff=nan", "task.model.hidden=0"],
     ["min_epochs=-1 is out of range", "task.model.hidden=0 is out of range",
      "task.model.cutoff=nan is out of range"]),
    (["propose", "a spinel", "proposer=llm", "proposer.llm.temperature=nan",
      "proposer.llm.timeout_s=0"],
     ["proposer.llm.temperature=nan is out of range: it must be in [0, 10]",
      "proposer.llm.timeout_s=0.0 is out of range: it must be in (0, 3600]"]),
    (["eval", "csp", "eval.workers=0"], ["eval.workers=0 is out of range"]),
])
def test_model_llm_and_yaml_only_values_fail_before_any_work(tmp_path, capsys, monkeypatch,
                                                             argv, lines):
    assert_fails_before_any_work(tmp_path, capsys, monkeypatch, argv, lines)
