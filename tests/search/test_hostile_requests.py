"""`genms generate` with hostile text and folders: literal requests, no markup, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from genms.search import commands
from tests.search.test_commands import SMALL, fakes, run_cli  # noqa: F401  (fakes is a fixture)


def test_interpolation_in_the_request_is_kept_literally(fakes, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("X", "secret-value")
    code, out = run_cli(["a novel perovskite ${oc.env:X}", *SMALL, "out_dir=r"], capsys)
    assert code == 0, out
    assert "secret-value" not in out and "${oc.env:X}" in out
    for path in Path("r").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".md", ".csv", ".jsonl"):
            assert "secret-value" not in path.read_text(), path
    assert (
        json.loads(Path("r/summary.json").read_text())["request"]
        == "a novel perovskite ${oc.env:X}"
    )
    assert (
        OmegaConf.load("r/config.yaml").request == "a novel perovskite ${oc.env:X}"
    )  # read back literally


def test_markup_in_the_request_is_printed_as_text(fakes, capsys):  # noqa: F811
    code, out = run_cli(["a novel perovskite [/] [bold]", *SMALL, "out_dir=r"], capsys)
    assert code == 0, out
    assert "a novel perovskite [/] [bold]" in out and "Traceback" not in out


def test_markup_in_an_error_message_is_printed_as_text(fakes, capsys):  # noqa: F811
    code, out = run_cli(["qwerty [/] asdfgh", *SMALL], capsys)
    assert code == 2 and "[/]" in out and "Traceback" not in out and "MarkupError" not in out


def test_unwritable_out_dir_is_one_line_exit_2(fakes, capsys):  # noqa: F811
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=/proc/1/x"], capsys)
    assert code == 2 and "Traceback" not in out
    lines = [line for line in out.splitlines() if line.startswith("genms:")]
    assert lines == ["genms: out_dir=/proc/1/x cannot be written (No such file or directory); "
                     "choose a writable folder"]


def test_error_handler_survives_an_unwritable_folder(fakes, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setattr(commands, "writable_dir", lambda path: None)  # the folder fails only later
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=/proc/1/x"], capsys)
    assert code == 1 and "Traceback" not in out
    assert "the search failed" in out and "could not be written" in out
