"""Config presets compose into typed settings; bad settings fail early with a clear message."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from genms.benchmarks.dft import EvalDFTConfig
from genms.cli import compose
from genms.configs import ConfigError, to_dataclass
from genms.validate.config import DFTSettings, LaunchConfig, ValidateConfig


def _compose(name: str, overrides: list[str]):
    return OmegaConf.to_container(compose(name, overrides), resolve=True)


@pytest.mark.parametrize("preset", ["fast", "production"])
def test_presets_compose_for_both_commands(preset):
    v = to_dataclass(ValidateConfig, _compose("validate", [f"dft={preset}", "inputs=[a.cif]"]))
    e = to_dataclass(EvalDFTConfig, _compose("eval_dft", [f"dft={preset}"]))
    assert v.dft.preset == e.dft.preset == preset
    assert v.dft.code == "gpaw" and v.inputs == ["a.cif"]
    assert v.executor.name == "serial" and v.executor.cpu_batch == 1


def test_fast_preset_is_cheaper_than_production():
    fast = to_dataclass(ValidateConfig, _compose("validate", ["dft=fast"])).dft
    prod = to_dataclass(ValidateConfig, _compose("validate", [])).dft
    assert prod.preset == "production"
    assert fast.ecut_ev < prod.ecut_ev and fast.kpt_density < prod.kpt_density
    assert fast.static_hash() != prod.static_hash()


def test_cell_relaxation_below_800_ev_is_refused():
    with pytest.raises(ValueError, match="Pulay"):
        DFTSettings(relax_ecut_ev=500.0)
    assert DFTSettings(relax_ecut_ev=500.0, relax_cell=False).relax_ecut_ev == 500.0


@pytest.mark.parametrize("override, key", [
    ("protocol=fast", "protocol"), ("dft.spin=maybe", "dft.spin"),
    ("launch.mpi_ranks=0", "mpi_ranks"), ("dft.bogus=1", "bogus"),
])
def test_bad_values_name_the_key(override, key):
    with pytest.raises((ConfigError, Exception), match=key):
        to_dataclass(ValidateConfig, _compose("validate", [override]))


def test_mpi_needs_the_subprocess_launcher():
    with pytest.raises(ValueError, match="subprocess"):
        LaunchConfig(launcher="inprocess", mpi_ranks=2)


def test_static_hash_ignores_relaxation_and_preset_name():
    a = DFTSettings(preset="a")
    b = DFTSettings(preset="b", relax_steps=5, relax_fmax=0.2)
    assert a.static_hash() == b.static_hash()
    assert a.static_hash() != DFTSettings(ecut_ev=600.0).static_hash()


def test_fingerprint_tracks_physics_not_launching():
    base = ValidateConfig()
    assert (
        base.fingerprint()
        == ValidateConfig(launch=LaunchConfig(mpi_ranks=4, nice=10)).fingerprint()
    )
    assert base.fingerprint() != ValidateConfig(dft=DFTSettings(kpt_density=2.0)).fingerprint()
    assert base.fingerprint() != ValidateConfig(protocol="relax").fingerprint()


def test_eval_config_builds_the_validation_config():
    e = EvalDFTConfig(per_family=2, protocol="relax", max_atoms=10)
    v = e.validate_config("x")
    assert (v.out_dir, v.protocol, v.max_atoms, v.dft) == ("x", "relax", 10, e.dft)
    with pytest.raises(ValueError, match="suite"):
        EvalDFTConfig(suite="other")
