"""Request text and other free-text arguments are data: never interpolated by OmegaConf."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from genms.cli import main, parse_argv, quote_value
from genms.configs import escape_interpolation, to_dataclass
from genms.search.api import GenerateConfig

TRICKY = [
    "a perovskite ${oc.env:X}",
    "${HOME}",
    "${HOME",
    "$${x}",
    "\\${x}",
    "\\\\${x}",
    "ends with \\",
    "it's",
    "\\'",
    "a\\b",
    "[/] [bold]x[/bold]",
    "a, b, [c]",
    "x=1",
    "'quoted'",
    "line\nbreak",
    "ÄÖ ü",
]


@pytest.mark.parametrize("text", TRICKY)
def test_quote_value_round_trips_through_hydra_and_omegaconf(text):
    value = OverridesParser.create().parse_override("request=" + quote_value(text)).value()
    assert OmegaConf.create({"request": value}).request == text


@pytest.mark.parametrize("text", TRICKY)
def test_escape_interpolation_reads_back_literally(text):
    assert OmegaConf.create({"v": escape_interpolation(text)}).v == text


def test_variadic_values_are_literal():
    _, _, overrides, _ = parse_argv(["sample", "${HOME}", "NaCl"])
    value = OverridesParser.create().parse_override(overrides[0]).value()
    assert OmegaConf.to_container(OmegaConf.create({"f": value}), resolve=True)["f"] == [
        "${HOME}",
        "NaCl",
    ]


def test_to_dataclass_does_not_interpolate_a_resolved_dict(monkeypatch):
    monkeypatch.setenv("X", "secret")
    cfg = to_dataclass(GenerateConfig, {"request": "a perovskite ${oc.env:X}"})
    assert cfg.request == "a perovskite ${oc.env:X}"


def test_propose_with_an_interpolation_is_not_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "propose",
                "${HOME}",
                "proposer.reference.source=shipped",
                f"hydra.run.dir={tmp_path / 'run'}",
            ]
        )
    message = capsys.readouterr().err
    assert exc.value.code == 2
    assert (
        message.startswith("genms propose:")
        and "Traceback" not in message
        and "Interpolation" not in message
    )
