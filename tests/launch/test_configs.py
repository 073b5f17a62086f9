"""Every primary config in conf/ composes, with every option of every group it uses, and converts
to its typed schema: the whole config for commands with one, the nodes their runner reads
otherwise."""

from __future__ import annotations

import pytest
import yaml
from omegaconf import OmegaConf

from genms.benchmarks.csp import CSPEvalConfig
from genms.cli import COMMANDS, CONF_DIR, Command, compose, group_choices, load_target
from genms.configs import to_dataclass
from genms.data.config import DataConfig
from genms.diffusion.config import DiffusionConfig, DiffusionDataConfig, SamplerConfig
from genms.energy.commands import EnergyDataConfig, ExportConfig, task_config
from genms.evaluate.commands import EvalMetricsConfig
from genms.launch.sweep import SweepConfig
from genms.models.denoisers import denoiser_config
from genms.paths import PathsConfig
from genms.pipeline import GROUPS, PipelineConfig
from genms.search.api import GenerateConfig
from genms.train.config import LoggerConfig, OptimConfig, TrainConfig

#: Configs whose runner reads typed nodes one at a time: node -> schema (or the function that
#: picks the schema, as ``model.arch`` does for the denoisers).
NODES: dict[str, dict[str, type]] = {
    "data": {"data": DataConfig, "paths": PathsConfig},
    "train_diffusion": {
        "model": denoiser_config,
        "diffusion": DiffusionConfig,
        "data": DiffusionDataConfig,
        "train": TrainConfig,
        "optim": OptimConfig,
        "logger": LoggerConfig,
        "paths": PathsConfig,
    },
    "train_energy": {
        "data": EnergyDataConfig,
        "train": TrainConfig,
        "optim": OptimConfig,
        "logger": LoggerConfig,
        "export": ExportConfig,
        "paths": PathsConfig,
    },
    "sample": {"sampler": SamplerConfig, "paths": PathsConfig},
    "eval_csp": {"eval.sampler": SamplerConfig, "paths": PathsConfig},
    "eval_metrics": {"paths": PathsConfig},
    "sweep": {"sweep": SweepConfig},
}


def _schemas() -> dict[str, type]:
    return {cmd.config_name: load_target(cmd.schema) for cmd in COMMANDS.values() if cmd.schema}


def _primary_configs() -> list[str]:
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def _command(name: str) -> Command | None:
    return next((cmd for cmd in COMMANDS.values() if cmd.config_name == name), None)


def _group_options(name: str) -> list[str]:
    """``group=option`` for every option of every group in the config's defaults list (less the
    presets whose header says they are only for other commands: ``# Only for: ...``)."""
    defaults = yaml.safe_load((CONF_DIR / f"{name}.yaml").read_text()).get("defaults", [])
    cmd = _command(name)
    out = []
    for entry in defaults:
        if not isinstance(entry, dict):
            continue
        (group, _), = entry.items()
        if group.startswith("override ") or not (CONF_DIR / group).is_dir():
            continue
        every = [p.stem for p in sorted((CONF_DIR / group).glob("*.yaml"))]
        options = group_choices(group, cmd) if cmd is not None else every
        out += [f"{group}={option}" for option in options]
    return out


def test_only_presets_for_other_commands_are_left_out():
    left_out = {
        (name, option)
        for name in _primary_configs()
        if _command(name) is not None
        for option in _group_options_all(name)
        if option not in _group_options(name)
    }
    assert left_out == {
        ("train_diffusion", "debug=energy_tiny"),
        ("train_energy", "debug=diffusion_tiny"),
        ("train_energy", "debug=diffusion_v2_tiny"),
    }


def _group_options_all(name: str) -> list[str]:
    defaults = yaml.safe_load((CONF_DIR / f"{name}.yaml").read_text()).get("defaults", [])
    out = []
    for entry in defaults:
        if isinstance(entry, dict):
            (group, _), = entry.items()
            if not group.startswith("override ") and (CONF_DIR / group).is_dir():
                out += [f"{group}={p.stem}" for p in sorted((CONF_DIR / group).glob("*.yaml"))]
    return out


def _convert(name: str, overrides: list[str]) -> list[object]:
    cfg = compose(name, overrides)
    schemas = _schemas()
    converted = []
    if name in schemas:
        converted.append(to_dataclass(schemas[name], OmegaConf.to_container(cfg, resolve=True)))
    for node, cls in NODES.get(name, {}).items():
        value = OmegaConf.select(cfg, node)
        value = OmegaConf.to_container(value, resolve=True)
        converted.append(to_dataclass(cls, value) if isinstance(cls, type) else cls(value))
    if name == "train_energy":
        converted.append(task_config(cfg.task))
    if name == "eval_csp":
        node = OmegaConf.to_container(cfg.eval, resolve=True)
        node.pop("sampler")
        converted.append(to_dataclass(CSPEvalConfig, node))
    if name == "eval_metrics":
        node = OmegaConf.to_container(cfg, resolve=True)
        node.pop("paths")
        converted.append(to_dataclass(EvalMetricsConfig, node))
    return converted


def test_every_primary_config_has_a_schema():
    covered = set(_schemas()) | set(NODES)
    assert set(_primary_configs()) == covered


@pytest.mark.parametrize("name", _primary_configs())
def test_config_composes_with_every_group_option_and_converts(name):
    assert _convert(name, [])
    for option in _group_options(name):
        assert _convert(name, [option]), option


def test_pipeline_commands_share_one_schema():
    for name in ("generate", "eval_end_to_end", "eval_baselines"):
        assert issubclass(_schemas()[name], PipelineConfig)
    for group, cls in GROUPS.items():
        assert (CONF_DIR / group).is_dir(), group
        for option in sorted((CONF_DIR / group).glob("*.yaml")):
            cfg = to_dataclass(GenerateConfig, OmegaConf.to_container(
                compose("generate", [f"{group}={option.stem}"]), resolve=True))
            assert isinstance(getattr(cfg, group), cls)


def test_schema_checks_types_while_composing():
    with pytest.raises(Exception, match="H"):
        compose("generate", ["search.H=many"])
    with pytest.raises(Exception, match="bogus"):
        compose("eval_baselines", ["rhi.bogus=1"])


def test_baselines_config_has_the_language_nodes_of_the_search():
    cfg = to_dataclass(load_target(COMMANDS[("eval", "baselines")].schema),
                       OmegaConf.to_container(compose("eval_baselines"), resolve=True))
    end_to_end = to_dataclass(load_target(COMMANDS[("eval", "end-to-end")].schema),
                              OmegaConf.to_container(compose("eval_end_to_end"), resolve=True))
    assert (
        cfg.proposer == end_to_end.proposer
        and cfg.rhi == end_to_end.rhi
        and cfg.paths == end_to_end.paths
    )


def test_an_element_of_a_list_of_dataclasses_can_be_overridden():
    overrides = ["families.2.formula_units=[1,2]", "families.0.request=an ABO3"]
    cfg = to_dataclass(load_target(COMMANDS[("eval", "end-to-end")].schema),
                       OmegaConf.to_container(compose("eval_end_to_end", overrides), resolve=True))
    assert cfg.families[2].family == "spinel" and cfg.families[2].formula_units == [1, 2]
    assert cfg.families[0].request == "an ABO3" and cfg.families[1].formula_units is None
    with pytest.raises(Exception, match="bogus"):
        compose("eval_end_to_end", ["families.0.bogus=1"])
