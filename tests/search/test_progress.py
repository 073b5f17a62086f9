"""The search shows progress inside long worker calls (per batch, compile notes), with an ETA, in
the
command and in the Python API."""

from __future__ import annotations

import genms.search.api as api
from genms.progress import report
from genms.search.config import SearchConfig
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from tests.search.fakes import FakePredictor, FakeProposer, FakeSampler, FakeScorer


class ReportingSampler(FakeSampler):
    """Reports a compile step and one batch per formula, as π_lo does."""

    def sample(self, formulae, n_per_formula, key, formula_units=None):
        total = len(formulae) * n_per_formula
        report("compile", 0, 1, "the sampler for 8 cells of <= 8 atoms")
        report("compile", 1, 1, "the sampler")
        for i in range(len(formulae)):
            report("sample", i * n_per_formula, total, "sampling")
        out = super().sample(formulae, n_per_formula, key, formula_units)
        report("sample", total, total, "sampling")
        return out


class Recorder:
    def __init__(self):
        self.events = []

    def start(self, stage, total):
        self.events.append(("start", stage, total))

    def advance(self, stage, n=1):
        self.events.append(("advance", stage, n))

    def note(self, stage, text):
        self.events.append(("note", stage, text))

    def finish(self, stage):
        self.events.append(("finish", stage))


def test_worker_reports_advance_the_stage_before_the_call_ends_without_double_counting():
    rec = Recorder()
    search = ForwardTreeSearch(
        FakeProposer(),
        FakeScorer(),
        sampler_worker(ReportingSampler()),
        energy_worker(FakePredictor()),
        SearchConfig(H=4, W=3, L=2, sample_chunk=2),
        progress=rec,
    )
    result = search.run("a perovskite", seed=0, request_text="a perovskite")
    sample = [e for e in rec.events if e[1] == "sample"]
    advances = [e[2] for e in sample if e[0] == "advance"]
    assert sum(advances) == 6 == len(result.candidates)  # 3 formulae × L=2, each counted once
    assert len([a for a in advances if a > 0]) >= 3  # in steps, not one jump per sampler call
    notes = [e[2] for e in sample if e[0] == "note"]
    assert "compiling the sampler for 8 cells of <= 8 atoms (1/1)" in notes and "sampling" in notes


def test_python_api_prints_progress_lines_by_default(monkeypatch, capsys):
    monkeypatch.setattr(api, "_load_sampler", lambda options: ReportingSampler())
    monkeypatch.setattr(api, "_load_predictor", lambda options: FakePredictor())
    gm = api.GenMS.load(search=SearchConfig(H=4, W=2, L=2))
    gm.generate("a novel pyrochlore oxide", seed=0)
    err = capsys.readouterr().err
    assert "genms: sample structures: 0/4 (0 %)" in err and "ETA" in err
    assert (
        "compiling the sampler for 8 cells" in err and "genms: formation energy: 4/4 (100 %)" in err
    )
    gm.generate("a novel pyrochlore oxide", seed=1, progress=False)
    assert "genms:" not in capsys.readouterr().err
