"""genms report gather: comparison tables and plots from fake sweep and run folders."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from matplotlib.figure import Figure

from genms.cli import main
from genms.tracking.gather import (
    GatherConfig,
    GatherError,
    PlotConfig,
    gather_to,
    order_metrics,
    overview_plot,
    plotted_metrics,
    to_markdown,
)
from genms.tracking.reports import ExperimentRun, ReportConfig, SweepPointInfo
from genms.tracking.sweep_log import SweepLog


def _fake_sweep(root):
    log = SweepLog(root / "sweep.jsonl")
    for h in (1, 25):
        for l_ in (1, 100):
            pdir = root / "points" / f"H{h}-L{l_}"
            with ExperimentRun(
                pdir,
                "table2",
                point=SweepPointInfo(
                    "s", f"{h}-{l_}", None, {"search.H": str(h), "search.L": str(l_)}
                ),
                report=ReportConfig(wandb=False),
            ) as run:
                run.log_metrics({"e_form_gnn": -0.01 * h - 0.001 * l_, "match_rate": 0.9})
            log.append({"point": f"{h}-{l_}", "status": "ok", "dir": str(pdir), "wall_s": 1.0,
                        "params": {"search.H": str(h), "search.L": str(l_)},
                        "result": json.loads((pdir / "run.json").read_text())})
    log.append(
        {
            "point": "broken",
            "status": "failed",
            "params": {"search.H": "5", "search.L": "5"},
            "dir": "",
        }
    )


def test_gather_sweep_with_paper_numbers(tmp_path):
    _fake_sweep(tmp_path / "sweep")
    paper = tmp_path / "paper.csv"
    paper.write_text("search.H,search.L,e_form_gnn\n1,1,-0.55\n25,100,-2.91\n")
    out = gather_to(GatherConfig(source=str(tmp_path / "sweep"), paper=str(paper),
                                 plot=PlotConfig(metrics=["e_form_gnn"])))
    table = out["table"]
    assert out["index"] == ["search.H", "search.L"] and len(table) == 4  # failed point left out
    assert list(table.columns) == [
        "search.H",
        "search.L",
        "e_form_gnn",
        "e_form_gnn (paper)",
        "match_rate",
    ]
    row = table[(table["search.H"] == 25) & (table["search.L"] == 100)].iloc[0]
    assert row["e_form_gnn"] == pytest.approx(-0.35) and row["e_form_gnn (paper)"] == -2.91
    md = (out["out"] / "comparison.md").read_text()
    assert md.startswith("| search.H | search.L | e_form_gnn | e_form_gnn (paper) | match_rate |")
    assert (out["out"] / "comparison.csv").is_file()
    assert [p.name for p in out["plots"]] == ["plot_e_form_gnn.png", "plot_comparison.png"]
    assert all(p.stat().st_size > 0 for p in out["plots"])


def test_gather_benchmark_json_by_family(tmp_path):
    src = tmp_path / "end_to_end.json"
    src.write_text(json.dumps({"perovskite": {"match_rate": 0.9, "timing": {"search_s": 3.0}},
                               "spinel": {"match_rate": 0.8, "timing": {"search_s": 2.0}}}))
    out = gather_to(GatherConfig(source=str(src), out=str(tmp_path / "r")))
    assert out["index"] == ["key"]
    assert out["table"]["match_rate"].tolist() == [0.9, 0.8]
    assert "timing.search_s" in out["metrics"]


def test_gather_errors_are_clear(tmp_path):
    with pytest.raises(GatherError, match="not found"):
        gather_to(GatherConfig(source=str(tmp_path / "missing")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(GatherError, match="no finished runs"):
        gather_to(GatherConfig(source=str(tmp_path / "empty")))


def test_genms_report_gather_command(tmp_path, capsys):
    _fake_sweep(tmp_path / "sweep")
    assert (
        main(
            [
                "report",
                "gather",
                str(tmp_path / "sweep"),
                "metrics=[match_rate]",
                f"out={tmp_path / 'o'}",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| search.H | search.L | match_rate |" in printed
    assert (tmp_path / "o" / "comparison.md").is_file() and not (
        tmp_path / "sweep" / "report"
    ).exists()


def test_training_sweep_metrics_show_small_values_and_skip_the_step_counter():
    """A `genms sweep train energy` gathers val/mae, val/mse and step: the step counter is
    listed last and not plotted; an MSE of 2e-4 is not printed as 0.000."""
    metrics = order_metrics(["step", "val/mse_ev_per_atom", "val/mae_ev_per_atom"])
    assert metrics[-1] == "step"
    assert plotted_metrics(metrics) == ["val/mse_ev_per_atom", "val/mae_ev_per_atom"]
    table = pd.DataFrame({"seed": [0], "val/mse_ev_per_atom": [0.0002355], "step": [10]})
    text = to_markdown(table, 3)
    assert "0.000236" in text and "| 0.000 |" not in text


def test_overview_labels_keep_integer_seeds(tmp_path, monkeypatch):
    drawn = []
    real = Figure.subplots

    def spy(self, *a, **kw):
        axes = real(self, *a, **kw)
        drawn.append(axes)
        return axes

    monkeypatch.setattr(Figure, "subplots", spy)
    table = pd.DataFrame({"seed": [0, 1], "val/mae_ev_per_atom": [0.01, 0.0115]})
    overview_plot(table, ["seed"], ["val/mae_ev_per_atom"], tmp_path)
    labels = [t.get_text() for t in drawn[0][0, 0].get_yticklabels()]
    assert labels == ["seed=0", "seed=1"]
