"""``genms --help``, ``genms <command> --help`` and Hydra's flags given with a space (``--cfg
job``)."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from genms.cli import COMMANDS, command_help, config_examples, main, parse_argv

NAMES = [f"{g} {v}".strip() for (g, v) in COMMANDS]
HYDRA_COMMANDS = [f"{g} {v}".strip() for (g, v), c in COMMANDS.items() if not c.raw]


def test_genms_help_lists_every_command_and_exits_0(capsys):
    for flag in ("--help", "-h", "help"):
        assert main([flag]) == 0
        out = capsys.readouterr().out
        assert all(f"genms {name}" in out for name in NAMES), out


def test_no_command_or_an_unknown_one_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "no command given" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("name", HYDRA_COMMANDS)
def test_command_help_shows_usage_options_config_and_examples(name, capsys):
    assert main([*name.split(), "--help"]) == 0
    out = capsys.readouterr().out
    cmd = COMMANDS[tuple(name.split()) if " " in name else (name, "")]
    assert out.startswith(f"usage: genms {name}") and cmd.help in out
    assert f"config file: conf/{cmd.config_name}.yaml" in out
    assert "main options" in out and "=" in out.split("main options", 1)[1]
    examples = config_examples(cmd, name)
    assert examples and "examples:" in out and all(e in out for e in examples)
    for example in examples:  # every example is a command line genms understands
        parsed, parsed_name, _, _ = parse_argv(shlex.split(example.split("  #")[0])[1:])
        assert parsed is cmd and parsed_name == name


def test_help_anywhere_on_the_line_and_for_a_group(capsys):
    assert main(["generate", "a perovskite", "search.H=3", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: genms generate <request>")
    assert main(["eval", "--help"]) == 0
    out = capsys.readouterr().out
    assert "genms eval csp" in out and "genms eval metrics" in out
    assert main(["help", "sample"]) == 0
    assert "genms sample SrTiO3" in capsys.readouterr().out


def test_help_of_a_train_command_lists_only_its_presets():
    text = command_help(COMMANDS[("train", "diffusion")], "train diffusion")
    assert "diffusion_tiny" in text and "energy_tiny" not in text
    assert "energy_tiny" in command_help(COMMANDS[("train", "energy")], "train energy")


@pytest.mark.parametrize("name", [n for n in NAMES if n not in HYDRA_COMMANDS])
def test_raw_command_help_exits_0(name, capsys):
    assert main([*name.split(), "--help"]) == 0
    assert "usage" in capsys.readouterr().out.lower()


def test_cfg_job_with_a_space_is_hydras_flag(tmp_path, capsys):
    _, _, overrides, _ = parse_argv(
        ["propose", "a perovskite", "--cfg", "job", "hydra.run.dir=x", "seed=1"]
    )
    assert overrides[-2:] == ["--cfg", "job"] and "hydra.run.dir=x" in overrides
    assert main(
        ["propose", "a novel chloride perovskite", "--cfg", "job", f"hydra.run.dir={tmp_path}"]
    ) in (0, None)
    out = capsys.readouterr().out
    assert "request: a novel chloride perovskite" in out and "proposer:" in out


def test_console_exit_codes(tmp_path):
    """As a user runs it: ``python -m genms.cli`` (the ``genms`` script calls the same main)."""

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "genms.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = run("--help")
    assert done.returncode == 0 and "genms generate" in done.stdout
    done = run("generate", "--help")
    assert done.returncode == 0 and "config file: conf/generate.yaml" in done.stdout
    assert run("bogus").returncode == 2
