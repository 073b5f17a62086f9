"""report.html: escaped, one picture per answer row in a wrapping grid, reasons said once, and
(when Chromium is installed) rendered by a real headless browser with every picture loaded."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from genms.search.candidates import FormulaNode
from genms.search.config import SearchConfig
from genms.search.report import formula_reasons, write_run
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from tests.search.fakes import CubicPerovskiteSampler, FakePredictor, FakeProposer, FakeScorer

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshot_report.py"


def _script():
    spec = importlib.util.spec_from_file_location("screenshot_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    formulae = ["SrTiO3", "BaTiO3", "KNbO3", "CaTiO3", "LaAlO3"]
    search = ForwardTreeSearch(
        FakeProposer(formulae),
        FakeScorer(),
        sampler_worker(CubicPerovskiteSampler(0.02)),
        energy_worker(FakePredictor()),
        SearchConfig(H=5, W=5, L=2),
    )
    result = search.run("x", seed=0, request_text="a <script>alert(1)</script> perovskite & co")
    write_run(result, out, top_k=6, distinct=False)
    return out


def test_html_is_escaped_and_draws_every_answer_row(run_folder):
    html = (run_folder / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    summary = json.loads((run_folder / "summary.json").read_text())
    assert len(summary["top"]) == 6
    assert html.count("<figure>") == 6 and 'class="grid"' in html
    assert "repeat(auto-fill" in html  # the grid wraps with the window width
    for top in summary["top"]:
        stem = Path(top["cif"]).stem
        assert (
            f'src="images/{stem}.png"' in html and (run_folder / "images" / f"{stem}.png").is_file()
        )
    assert "http://" not in html and "https://" not in html


def test_reasons_are_said_once():
    node = FormulaNode(
        "CsPbCl3",
        0.9,
        "offline",
        0.8,
        True,
        reasons=(
            "perovskite ABX3: A=Cs+, B=Pb2+, X=Cl- (substitution likelihood 0.91)",
            "charge neutral: 1x(+1) ...",
            "novel: not in the reference formulae",
            "syntax: valid formula (reduced: CsPbCl3)",
            "uniqueness: novel: not in the 58,934 reference formulae from WBM",
            "charge: charge neutral with the Pauling electronegativity test (SMACT)",
            "likelihood: perovskite ABX3: A=Cs+ B=Pb2+ X=Cl- (fit 0.91)",
            "charge: charge neutral with the Pauling electronegativity test (SMACT)",
        ),
        checks={"syntax": 1.0},
    )
    shown = formula_reasons(node)
    assert shown == [
        "uniqueness: novel, not in the reference",
        "charge: charge neutral with the Pauling electronegativity test (SMACT)",
        "likelihood: perovskite ABX3: A=Cs+ B=Pb2+ X=Cl- (fit 0.91)",
    ]
    llm = FormulaNode("CsPbCl3", 0.9, "llm", 0.8, True, reasons=("the model's note", "ratio: ok"))
    assert formula_reasons(llm) == ["the model's note", "ratio: ok"]


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
    reason="no Chromium installed (apt-get install chromium)",
)
def test_report_renders_in_headless_chromium(run_folder, tmp_path):
    module = _script()
    shot = tmp_path / "report.png"
    problems = module.check_report(run_folder, shot, width=1100)
    assert problems == []
    with Image.open(shot) as im:
        assert im.width == 1100 and im.height > 1000
    # a broken picture link is caught
    html = (run_folder / "report.html").read_text()
    broken = tmp_path / "broken"
    shutil.copytree(run_folder, broken)
    (broken / "report.html").write_text(
        re.sub(r'src="images/01_', 'src="images/missing_', html, count=1)
    )
    assert any(
        "not a file of the run folder" in p for p in module.check_report(broken, tmp_path / "b.png")
    )
