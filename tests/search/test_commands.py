"""`genms generate` on bad input: a clear message and an exit code, never a traceback.

The models are replaced by fakes (``GenMS.from_config`` is patched), so these tests check the
command's handling of every outcome, not the models.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genms.cli import main
from genms.parallel.executor import SerialExecutor
from genms.search.api import GenMS
from genms.search.language import LanguageLevel
from genms.search.tree import energy_worker, sampler_worker
from tests.search.fakes import FakePredictor, FakeProposer, FakeSampler, FakeScorer


def run_cli(args, capsys) -> tuple[int, str]:
    try:
        code = main(["generate", *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """Patch model loading; returns a dict the test fills with fakes."""
    monkeypatch.chdir(tmp_path)
    parts = {"proposer": FakeProposer(), "scorer": FakeScorer(), "sampler": FakeSampler(),
             "predictor": FakePredictor()}

    def from_config(cls, cfg):
        language = LanguageLevel(parts["proposer"], parts["scorer"])
        return cls(language, sampler_worker(parts["sampler"]), energy_worker(parts["predictor"]),
                   SerialExecutor(), cfg.search)

    monkeypatch.setattr(GenMS, "from_config", classmethod(from_config))
    return parts


SMALL = ["search.H=4", "search.W=2", "search.L=3", "report=false"]


@pytest.mark.parametrize("request_text, expected", [
    ("", "empty request"),
    ("   ", "empty request"),
    ("qwerty asdfgh zxcvb", "could not understand the request"),
    ("an oxide with no oxygen", "oxygen"),
])
def test_bad_requests_exit_2_with_a_message(request_text, expected, fakes, capsys):
    code, out = run_cli([request_text, *SMALL], capsys)
    assert code == 2
    assert expected in out
    assert "Traceback" not in out


def test_bad_setting_exits_2(fakes, capsys):
    code, out = run_cli(["a novel perovskite", "search.W=0"], capsys)
    assert code == 2 and "search.W=0 is out of range" in out and "Traceback" not in out


def test_ok_run_prints_table_and_writes_folder(fakes, capsys, tmp_path):
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=run1"], capsys)
    assert code == 0, out
    shown = re.search(r"Top (\d+) of 6 structures", out)
    assert shown and "cifs/01_" in out
    summary = json.loads(Path("run1/summary.json").read_text())
    assert summary["status"] == "ok" and len(summary["top"]) == int(shown.group(1)) >= 1
    assert (Path("run1") / "config.yaml").is_file() and (Path("run1") / "journal.jsonl").is_file()
    # The same folder again without resume=true is refused; with it, nothing is recomputed.
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=run1"], capsys)
    assert code == 2 and "resume=true" in out
    fakes["sampler"] = FakeSampler(interrupt_after=0)  # would raise if asked to sample
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=run1", "resume=true"], capsys)
    assert code == 0, out


def test_no_formula_proposed(fakes, capsys):
    fakes["proposer"] = FakeProposer([])
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=r"], capsys)
    assert code == 1 and "no_formula" in out and "relax its constraints" in out
    assert json.loads(Path("r/summary.json").read_text())["status"] == "no_formula"


def test_no_formula_survives_r_hi(fakes, capsys):
    fakes["scorer"] = FakeScorer({f: 0.0 for f in ["SrTiO3", "BaTiO3", "CaTiO3", "KNbO3"]})
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=r"], capsys)
    assert code == 1 and "none of the 4 proposed formulae passed R_hi" in out
    assert "ratio is not 1:1:3" in out
    assert len(Path("r/formulae.csv").read_text().splitlines()) == 5  # partial results are kept


def test_no_valid_structure(fakes, capsys):
    fakes["sampler"] = FakeSampler(collapse=["SrTiO3", "BaTiO3"])
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=r"], capsys)
    assert code == 1 and "none of the 6 sampled structures passed the filters" in out
    assert "invalid_structure" in out and "Traceback" not in out
    assert len(Path("r/candidates.csv").read_text().splitlines()) == 7


def test_interrupt_says_how_to_resume(fakes, capsys):
    fakes["sampler"] = FakeSampler(interrupt_after=0)
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=r"], capsys)
    assert code == 130 and "resume=true" in out and "out_dir=r" in out


def test_unexpected_error_goes_to_error_log(fakes, capsys):
    class Broken:
        def propose(self, request, n, seed):
            raise ZeroDivisionError("boom")

    fakes["proposer"] = Broken()
    code, out = run_cli(["a novel perovskite", *SMALL, "out_dir=r"], capsys)
    assert code == 1 and "ZeroDivisionError: boom" in out and "Traceback" not in out
    assert "Traceback" in Path("r/error.log").read_text()


def test_missing_model_bundle_is_a_message(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)

    def from_config(cls, cfg):
        raise FileNotFoundError(
            "no denoiser bundle at /nowhere; train one with `genms train diffusion`"
        )

    monkeypatch.setattr(GenMS, "from_config", classmethod(from_config))
    code, out = run_cli(["a novel perovskite", "sampler.bundle=/nowhere"], capsys)
    assert code == 1 and "could not load the models" in out and "/nowhere" in out
