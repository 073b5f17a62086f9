"""genms experiment: steps run once (resumable), the README block is rewritten; table builders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from genms.benchmarks import tables
from genms.launch import experiment
from genms.tracking.sweep_log import SweepLog

JOB = str(Path(__file__).with_name("sweep_job.py"))


def _fake_experiment(folder: Path) -> None:
    folder.mkdir()
    (folder / "experiment.yaml").write_text(
        "title: Fake\ntable: fake\nsteps:\n"
        f"  - name: sweep\n    run: [sweep, {sys.executable}, {JOB}, 'x=1,2', "
        f"'log={{out}}/runs.log',"
        " 'sweep.dir={out}/sweep', sweep.executor=serial]\n"
    )
    (folder / "README.md").write_text(
        "# Fake\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\nfooter\n"
    )


def test_experiment_runs_steps_once_and_rewrites_the_readme(tmp_path, monkeypatch, capsys):
    def fake_builder(out: Path, folder: Path) -> tables.TableResult:
        rows = SweepLog(out / "sweep" / "sweep.jsonl").latest().values()
        total = sum(r["result"]["score"] for r in rows)
        return tables.TableResult(f"| total |\n|---|\n| {total} |", {"total": total}, ["a note"],
                                  [{"total": total}])

    monkeypatch.setitem(tables.BUILDERS, "fake", fake_builder)
    folder = tmp_path / "fake_exp"
    _fake_experiment(folder)
    out = tmp_path / "out"
    assert experiment.main([str(folder), f"out={out}"]) == 0
    readme = (folder / "README.md").read_text()
    assert "| 6.0 |" in readme and "old" not in readme and readme.rstrip().endswith("footer")
    assert "- a note" in readme and "Hardware:" in readme
    tracked = json.loads((out / "tracking" / "run.json").read_text())
    assert tracked["experiment"] == "fake_exp" and tracked["metrics"] == {"total": 6.0}
    assert tracked["tables"]["results"] == "report/tables/results.csv"
    assert json.loads((out / "results.json").read_text()) == {"total": 6.0}
    assert (out / "runs.log").read_text().split() == ["1", "2"]
    # Again: the finished step is skipped.
    assert experiment.main([str(folder), f"out={out}", "wandb=false"]) == 0
    assert (out / "runs.log").read_text().split() == ["1", "2"]
    assert "# Fake" in capsys.readouterr().out


def test_unknown_experiment_and_option_are_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="no experiment"):
        experiment.main(["no_such_experiment"])
    with pytest.raises(SystemExit, match="unknown option"):
        experiment.main(["table1_end_to_end", "colour=red"])


def test_every_shipped_experiment_loads_and_its_table_builds_before_running(tmp_path):
    names = experiment.available()
    assert {"table1_end_to_end", "table2_branching", "table3_asking", "table4_retrieval",
            "figure4_best_of_n", "csp_benchmark"} <= set(names)
    for name in names:
        exp = experiment.load_experiment(name)
        assert exp.steps and exp.table in tables.BUILDERS
        result = tables.BUILDERS[exp.table](tmp_path / "empty", exp.folder)
        assert tables.NOT_RUN in result.markdown  # nothing run: every cell of ours says so


def test_table1_fills_our_cells_from_results(tmp_path):
    fam = {
        "cif_validity": 1.0,
        "structural_validity": 0.97,
        "composition_validity": 0.9,
        "e_form_gnn": -1.2,
        "uniqueness": 0.8,
        "match_rate": 0.91,
    }
    (tmp_path / "end_to_end.json").write_text(json.dumps({"perovskite": fam}))
    (tmp_path / "baselines.json").write_text(
        json.dumps({"template": {"perovskite": {"sampled": fam | {"match_rate": 1.0}}}})
    )
    result = tables.table1_end_to_end(tmp_path, experiment.EXPERIMENTS_DIR / "table1_end_to_end")
    first = result.markdown.splitlines()[2]
    assert first.startswith(
        "| perovskite | CIF validity ↑ | 1.00 | not yet run | 1.00 | not yet run | 0.98 | 1.00 |"
    )
    fam["sampled"] = fam | {"match_rate": 0.5, "match_rate_ci": [0.3, 0.7]}
    fam["match_rate_ci"] = [0.85, 0.95]
    (tmp_path / "end_to_end.json").write_text(json.dumps({"perovskite": fam}))
    result = tables.table1_end_to_end(tmp_path, experiment.EXPERIMENTS_DIR / "table1_end_to_end")
    assert "| 0.91 [0.85, 0.95] | 0.50 [0.30, 0.70] |" in result.markdown
    assert "| -1.20 / DFT not yet run |" in result.markdown
    assert result.values["perovskite"]["match_rate"]["template"] == "1.00"


def test_params_and_step_scoped_arguments(tmp_path):
    exp = experiment.load_experiment("figure4_best_of_n")
    name, opts = experiment.parse_args(
        [
            "figure4_best_of_n",
            "n_compositions=100",
            "device=cpu",
            "--",
            "gnn:tolerance=0.01",
            "paths.cache_dir=x",
        ]
    )
    gnn, dft = exp.steps[0], exp.steps[1]
    (cmd,) = experiment.step_commands(gnn, tmp_path, opts.extra, opts.params)
    assert "n_compositions=100" in cmd and "device=cpu" in cmd and "n=10" in cmd
    assert cmd[-2:] == ["tolerance=0.01", "paths.cache_dir=x"]
    (cmd,) = experiment.step_commands(dft, tmp_path, opts.extra, opts.params)
    assert cmd == [
        "validate",
        f"{tmp_path}/dft_inputs",
        f"out_dir={tmp_path}/dft",
        "paths.cache_dir=x",
    ]


def test_hardware_line_names_where_each_step_ran(tmp_path):
    log = SweepLog(tmp_path / "steps.jsonl")
    log.append({"point": "genms", "status": "ok", "wall_s": 336.0, "hardware": "1 x NVIDIA H200"})
    log.append(
        {"point": "dft", "status": "ok", "wall_s": 3600.0, "hardware": "x86_64, 2 CPU cores"}
    )
    log.append({"point": "baselines", "status": "failed", "wall_s": 1.0, "hardware": "elsewhere"})
    assert experiment.step_hardware(tmp_path) == "genms: 1 x NVIDIA H200; dft: x86_64, 2 CPU cores"
    assert experiment.step_hardware(tmp_path / "none") == experiment.hardware()
