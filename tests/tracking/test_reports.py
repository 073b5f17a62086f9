"""ExperimentRun: local run.json always; W&B offline run with tables and pictures, no network."""

from __future__ import annotations

import json

import numpy as np

from genms.crystal.convert import to_cif
from genms.crystal.structure import Crystal
from genms.tracking.reports import (
    ExperimentRun,
    ReportConfig,
    SweepPointInfo,
    load_run,
    log_finished_run,
)


def _perovskite() -> Crystal:
    frac = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    return Crystal(frac, np.array([38, 22, 8, 8, 8]), np.eye(3) * 3.9)


def test_sweep_point_from_environment():
    env = {"GENMS_SWEEP_NAME": "branching", "GENMS_SWEEP_POINT": "abc", "GENMS_SWEEP_INDEX": "3",
           "GENMS_SWEEP_PARAMS": json.dumps({"search.H": "25", "search.L": "100"})}
    point = SweepPointInfo.from_env(env)
    assert point.index == 3 and point.params == {"search.H": "25", "search.L": "100"}
    assert point.tags() == ["sweep:branching", "search.H=25", "search.L=100"]
    assert SweepPointInfo.from_env({}).tags() == []


def test_offline_wandb_run_with_table_and_pictures(tmp_path):
    point = SweepPointInfo("branching", "p1", 0, {"search.H": "25"})
    with ExperimentRun(tmp_path, "table2_branching", {"seed": 0}, point=point,
                       report=ReportConfig(project="genms-test", tags=["cpu"])) as run:
        run.log_metrics({"match_rate": 0.9, "e_form_gnn": np.float32(-1.5)})
        run.log_table(
            "candidates",
            [{"formula": "SrTiO3", "e_form": -1.2}, {"formula": "BaTiO3", "e_form": -1.1}],
        )
        pictures = run.log_structures("top_structures", [_perovskite()], ["SrTiO3"])
    assert pictures and pictures[0].is_file()
    record = load_run(tmp_path / "run.json")
    assert record["experiment"] == "table2_branching" and record["name"] == "table2_branching-H=25"
    assert record["tags"] == ["cpu", "sweep:branching", "search.H=25"]
    assert record["metrics"] == {"match_rate": 0.9, "e_form_gnn": -1.5}
    assert (
        record["finished"] is not None
        and record["tables"]["candidates"] == "report/tables/candidates.csv"
    )
    assert (
        (tmp_path / "report" / "tables" / "candidates.csv").read_text().startswith("formula,e_form")
    )
    offline = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and record["wandb"] == [str(offline[0])]
    media = {p.parent.name for p in (offline[0] / "files" / "media").rglob("*") if p.is_file()}
    assert {"table", "images"} <= media  # the wandb.Table and the wandb.Image were logged


def test_without_wandb_only_local_files(tmp_path):
    with ExperimentRun(
        tmp_path, "x", report=ReportConfig(wandb=False), point=SweepPointInfo()
    ) as run:
        run.log_metrics({"a": 1})
    assert not (tmp_path / "wandb").exists()
    assert load_run(tmp_path / "run.json")["metrics"] == {"a": 1}
    assert (tmp_path / "report" / "metrics.jsonl").read_text().strip() == '{"step": 0, "a": 1.0}'


def test_log_finished_run_draws_the_top_structures_of_run_folders(tmp_path):
    cifs = tmp_path / "genms" / "perovskite" / "cifs"
    cifs.mkdir(parents=True)
    (cifs / "01_SrTiO3.cif").write_text(to_cif(_perovskite()))
    path = log_finished_run(tmp_path, "table1", {"perovskite": {"match_rate": 0.9, "name": "x"}},
                            report=ReportConfig(wandb=False), point=SweepPointInfo(),
                            tables={"results": [{"family": "perovskite", "match_rate": 0.9}]})
    record = load_run(path)
    assert record["metrics"] == {"perovskite.match_rate": 0.9}
    assert record["images"]["top_structures"] == ["report/top_structures/01.png"]
    assert (tmp_path / "tracking" / "report" / "top_structures" / "01.png").is_file()
    # A result that is already a run record is not logged twice.
    assert log_finished_run(tmp_path / "other", "x", {"kind": "genms-run"}) is None
