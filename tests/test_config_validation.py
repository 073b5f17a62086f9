"""One validation layer: every numeric option has a range, checked before any work, and every
bad value is reported at once (one line each, exit code 2)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from genms.cli import main
from genms.configs import ConfigError, Range, config_problems, in_range, range_problems, ranged
from genms.language.offline import OfflineConfig
from genms.pipeline import PipelineConfig
from genms.search.config import SearchConfig


@dataclasses.dataclass(frozen=True)
class Inner:
    x: float = ranged(0.5, 0, 1)


@dataclasses.dataclass(frozen=True)
class Outer:
    n: int = ranged(3, 1, 10)
    free: float = 1.0  # no range: finite
    maybe: int | None = ranged(None, 1)
    items: list[int] = ranged([], 1, 5)
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_range_bounds_and_text():
    assert Range(0, 1, lo_open=True).contains(1) and not Range(0, 1, lo_open=True).contains(0)
    assert not Range().contains(math.nan) and not Range().contains(math.inf)
    assert str(Range(1, 10_000_000)) == "[1, 10000000]"
    assert str(Range(0, None, lo_open=True)) == "(0, inf)"
    assert in_range(1, 2)["range"] == Range(1, 2)


def test_every_bad_value_is_listed():
    problems = range_problems(Outer, {"n": 0, "free": math.nan, "maybe": 0, "items": [1, 9],
                                      "inner": {"x": 2.0}})
    assert problems == [
        "n=0 is out of range: it must be in [1, 10]",
        "free=nan is out of range: it must be a finite number",
        "maybe=0 is out of range: it must be in [1, inf)",
        "items[1]=9 is out of range: it must be in [1, 5]",
        "inner.x=2.0 is out of range: it must be in [0, 1]",
    ]
    assert range_problems(Outer, {"maybe": None, "n": "${oc.env:N}"}) == []


def test_config_problems_reports_type_errors_key_by_key():
    problems = config_problems(PipelineConfig, {"search": {"L": "many", "W": 0, "H": 100_000},
                                                "proposer": {"offline": {"max_combinations": 0}}})
    assert len(problems) == 4, problems
    assert any("search.L" in p for p in problems)
    assert ("proposer.offline.max_combinations=0 is out of range: it must be in [1, 10000000]"
            in problems)


def test_every_numeric_field_of_the_pipeline_is_checked():
    """A NaN in any numeric option of the pipeline's config is refused."""
    def numeric(cls, prefix=""):
        for f in dataclasses.fields(cls):
            value = f.default if f.default is not dataclasses.MISSING else None
            sub = getattr(f.type, "__dataclass_fields__", None)
            if f.default_factory is not dataclasses.MISSING:
                made = f.default_factory()
                if dataclasses.is_dataclass(made):
                    yield from numeric(type(made), f"{prefix}{f.name}.")
                    continue
            if sub is None and isinstance(value, int | float) and not isinstance(value, bool):
                yield f"{prefix}{f.name}"
    keys = list(numeric(PipelineConfig))
    assert "search.L" in keys and "proposer.offline.max_combinations" in keys
    for key in keys:
        node: dict = {}
        *path, last = key.split(".")
        d = node
        for p in path:
            d = d.setdefault(p, {})
        d[last] = math.nan
        assert config_problems(PipelineConfig, node), key


def test_post_init_lists_every_problem():
    with pytest.raises(ConfigError) as exc:
        SearchConfig(L=0, W=0)
    assert exc.value.problems == ["search.W=0 is out of range: it must be in [1, 1000]",
                                  "search.L=0 is out of range: it must be in [1, 10000]"]
    with pytest.raises(ConfigError):
        OfflineConfig(max_combinations=0)


@pytest.mark.parametrize("argv, lines", [
    (["propose", "a novel chloride perovskite", "proposer.offline.max_combinations=0"],
     ["proposer.offline.max_combinations=0 is out of range"]),
    (["generate", "a novel chloride perovskite", "search.L=100000", "search.max_atoms=0",
      "search.filters.e_form_min=nan", "proposer.offline.max_combinations=0"],
     ["search.L=100000", "search.max_atoms=0", "search.filters.e_form_min=nan",
      "proposer.offline.max_combinations=0"]),
    (["train", "diffusion", "debug=diffusion_tiny", "train.keep=0", "optim.lr=-1", "optim.b2=nan"],
     ["train.keep=0", "optim.lr=-1", "optim.b2=nan"]),
    (["sample", "NaCl", "n=0", "seed=-3"], ["n=0", "seed=-3"]),
    (["data", "prepare", "mp_20", "data.workers=-1", "data.chunksize=0"],
     ["data.workers=-1", "data.chunksize=0"]),
    (["validate", "x.cif", "max_atoms=0", "mlip.fmax=nan"], ["max_atoms=0", "mlip.fmax=nan"]),
    (["eval", "end-to-end", "families.0.formula_units=[0]", "returned=0"],
     ["families[0].formula_units[0]=0", "returned=0"]),
])
def test_commands_list_every_bad_value_before_any_work(tmp_path, capsys, monkeypatch, argv, lines):
    assert_fails_before_any_work(tmp_path, capsys, monkeypatch, argv, lines)


def assert_fails_before_any_work(tmp_path, capsys, monkeypatch, argv, lines):
    """``genms *argv`` exits 2 with one line per bad value (each containing its ``lines``
    fragment) and starts nothing."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main([*argv, f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert len(err) == len(lines), err
    for line, fragment in zip(err, lines, strict=True):
        assert line.startswith(f"genms {argv[0]}") and fragment in line, (line, fragment)
    assert not (tmp_path / "run").exists()  # nothing started
