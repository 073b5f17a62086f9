"""``genms report gather`` on ``genms generate`` run folders and on a sweep of them (tiny fixture
runs
written by the real run-folder writer, with stand-ins for the models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import genms.benchmarks.families as families
import genms.tracking.gather as gather
from genms.cli import main
from genms.crystal.structure import Crystal
from genms.evaluate.family import FamilyReferences
from genms.search.config import SearchConfig
from genms.search.report import write_run
from genms.search.tree import ForwardTreeSearch, energy_worker, sampler_worker
from genms.tracking.gather import GatherConfig, gather_to
from genms.tracking.sweep_log import SweepLog
from tests.search.fakes import CubicPerovskiteSampler, FakePredictor, FakeProposer, FakeScorer

REQUEST = "a novel perovskite"
MAIN = [
    "best_e_form",
    "top_mean_e_form",
    "kept_mean_e_form",
    "match_rate_top",
    "structural_validity",
    "composition_validity",
    "kept_fraction",
    "time_total_s",
]


def search_run(folder: Path, L: int, seed: int = 0) -> Path:
    search = ForwardTreeSearch(
        FakeProposer(["SrTiO3", "BaTiO3", "CaTiO3"]),
        FakeScorer(),
        sampler_worker(CubicPerovskiteSampler(jitter=0.05)),
        energy_worker(FakePredictor()),
        SearchConfig(H=3, W=2, L=L),
    )
    result = search.run(REQUEST, seed=seed, request_text=REQUEST)
    write_run(
        result,
        folder,
        config={"request": REQUEST, "seed": seed, "search": {"H": 3, "W": 2, "L": L}},
        top_k=2,
        pictures=False,
        distinct=False,
    )
    return folder


@pytest.fixture(autouse=True)
def perovskite_reference(monkeypatch):
    """The family references: one ideal cubic perovskite (instead of the data folder's)."""
    frac = np.array(
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], float
    )
    ref = Crystal(frac, np.array([38, 22, 8, 8, 8]), np.eye(3) * 3.9)

    class Refs:
        references = FamilyReferences([ref], ["SrTiO3-cubic"])

    monkeypatch.setattr(families, "family_references", lambda family, **kw: Refs())


def test_gather_finds_finished_generate_runs_and_compares_them(tmp_path, monkeypatch, capsys):
    search_run(tmp_path / "runs" / "generate" / "2026-01-01_10-00-00", L=2)
    search_run(tmp_path / "runs" / "generate" / "2026-01-01_11-00-00", L=3)
    (
        tmp_path / "runs" / "generate" / "2026-01-01_12-00-00"
    ).mkdir()  # an unfinished run: no summary.json
    monkeypatch.chdir(tmp_path)
    assert main(["report", "gather", "runs/generate"]) == 0  # the documented command line
    printed = capsys.readouterr().out
    assert (
        "no finished runs" not in printed
        and "best_e_form" in printed
        and "match_rate_top" in printed
    )
    out = tmp_path / "runs" / "generate" / "report"
    assert (out / "comparison.md").is_file() and (out / "plot_comparison.png").stat().st_size > 5000

    result = gather_to(
        GatherConfig(source=str(tmp_path / "runs" / "generate"), out=str(tmp_path / "r"))
    )
    table = result["table"]
    assert result["index"] == ["name", "search.L"]  # the setting that differs tells the runs apart
    assert table["search.L"].tolist() == [2, 3]
    assert result["metrics"][: len(MAIN)] == MAIN
    assert "seed" not in result["metrics"] and not any(
        m.endswith("seed") for m in result["metrics"]
    )
    assert {"time_propose_s", "n_candidates", "n_kept"} <= set(result["metrics"])
    summary = json.loads((tmp_path / "runs/generate/2026-01-01_10-00-00/summary.json").read_text())
    assert table["best_e_form"].iloc[0] == pytest.approx(summary["top"][0]["e_form_ev_per_atom"])
    assert table["best_e_form"].notna().all() and (table["best_e_form"] < 0).all()
    assert table["match_rate_top"].tolist() == [
        1.0,
        1.0,
    ]  # jittered cubic cells match the cubic prototype
    assert table["structural_validity"].tolist() == [1.0, 1.0]
    assert (table["time_total_s"] > 0).all()
    assert result["markdown"].splitlines()[0].startswith("| name | search.L | best_e_form |")


def test_sweep_report_shows_formation_energies_not_seeds(tmp_path):
    root = tmp_path / "sweep"
    log = SweepLog(root / "sweep.jsonl")
    for i, L in enumerate((2, 3)):
        point = search_run(root / "points" / f"L{L}" / "run", L=L)
        log.append(
            {
                "point": f"L{L}",
                "index": i,
                "status": "ok",
                "dir": str(point.parent),
                "wall_s": 2.0,
                "params": {"search.L": str(L)},
                "result_file": "run/summary.json",
                "result": json.loads((point / "summary.json").read_text()),
            }
        )
    result = gather_to(GatherConfig(source=str(root)))
    assert result["index"] == ["search.L"]
    assert "seed" not in result["metrics"] and result["metrics"][0] == "best_e_form"
    plots = [p.name for p in result["plots"]]
    assert (
        "plot_seed.png" not in plots
        and "plot_best_e_form.png" in plots
        and "plot_comparison.png" in plots
    )
    assert result["table"]["best_e_form"].notna().all()
    assert result["table"]["match_rate_top"].tolist() == [1.0, 1.0]


def test_gather_one_run_folder_and_no_match_without_a_family(tmp_path, monkeypatch):
    run = search_run(tmp_path / "one", L=2)
    summary = json.loads((run / "summary.json").read_text())
    summary["request"] = "something with Sr, Ti and O"
    (run / "summary.json").write_text(json.dumps(summary))
    result = gather_to(GatherConfig(source=str(run / "summary.json"), out=str(tmp_path / "r")))
    assert len(result["table"]) == 1 and result["table"]["best_e_form"].notna().all()
    assert "match_rate_top" not in result["metrics"]  # no family asked for: no match number


def test_plots_of_runs_told_apart_by_seed_use_the_seed_axis(tmp_path, monkeypatch):
    """Two `genms generate` runs differing only in seed: the per-metric plot is against the
    seed (both bars at their own tick), not against the folder name with one label for both."""
    table = gather.pd.DataFrame(
        {"name": ["2026-01-01_10-00-00", "2026-01-01_11-00-00"], "seed": [0, 1],
         "best_e_form": [-2.5, -2.4]}
    )
    index = ["name", "seed"]
    assert gather.plot_axes(table, index, gather.PlotConfig()) == ("seed", None)
    assert gather.plot_axes(table, ["name"], gather.PlotConfig()) == ("name", None)
    assert gather.plot_axes(table, index, gather.PlotConfig(x="name")) == ("name", "seed")

    drawn = []
    real_subplots = Figure.subplots

    def spy(self, *a, **kw):
        ax = real_subplots(self, *a, **kw)
        drawn.append(ax)
        return ax

    monkeypatch.setattr(Figure, "subplots", spy)
    gather.plot(table, index, ["best_e_form"], gather.PlotConfig(), tmp_path)
    gather.plot(table, index, ["best_e_form"], gather.PlotConfig(x="name"), tmp_path)
    by_seed, by_name = drawn
    assert [t.get_text() for t in by_seed.get_xticklabels()] == ["0", "1"]
    assert len(by_seed.patches) == 2  # bars, not a line joining two seeds
    # x = name, hue = seed: each name's bar at its own tick, both names labelled
    assert [t.get_text() for t in by_name.get_xticklabels()] == list(table["name"])
    centres = sorted(p.get_x() + p.get_width() / 2 for p in by_name.patches)
    assert centres[0] < 0.5 < centres[1]
