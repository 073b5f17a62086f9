"""genms sweep: serial and Ray-parallel execution, the JSONL record and resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from genms.launch.expand import build_spec
from genms.launch.sweep import SweepConfig, main, run_sweep
from genms.tracking.reports import load_run
from genms.tracking.sweep_log import SweepLog

JOB = str(Path(__file__).with_name("sweep_job.py"))


def _spec(tmp_path: Path, values: str, *extra: str):
    return build_spec([sys.executable, JOB, f"x={values}", f"log={tmp_path / 'runs.log'}", *extra])


def _runs(tmp_path: Path) -> list[str]:
    return (tmp_path / "runs.log").read_text().split()


def test_serial_sweep_records_each_point_and_resume_skips_finished(tmp_path):
    spec = _spec(tmp_path, "1,2,bad")
    cfg = SweepConfig(dir=str(tmp_path / "sweep"), executor="serial")
    root, rows, skipped = run_sweep(spec, cfg)
    assert skipped == 0 and sorted(_runs(tmp_path)) == ["1", "2", "bad"]
    latest = SweepLog(root / "sweep.jsonl").latest()
    by_x = {row["params"]["x"]: row for row in latest.values()}
    assert by_x["1"]["status"] == "ok" and by_x["1"]["result"]["score"] == 2.0
    assert by_x["2"]["result_file"] == "result.json"
    assert by_x["bad"]["status"] == "failed" and by_x["bad"]["returncode"] == 3
    assert (Path(by_x["1"]["dir"]) / "stdout.log").exists()
    described = json.loads((root / "sweep.json").read_text())
    assert described["swept_keys"] == ["x"] and len(described["points"]) == 3

    # Rerun: the two finished points are skipped, the failed one runs again.
    _, rows2, skipped2 = run_sweep(spec, cfg)
    assert skipped2 == 2 and [r["params"]["x"] for r in rows2] == ["bad"]
    assert sorted(_runs(tmp_path)) == ["1", "2", "bad", "bad"]

    # Not retrying failures: nothing left to run.
    _, rows3, skipped3 = run_sweep(
        spec, SweepConfig(dir=cfg.dir, executor="serial", retry_failed=False)
    )
    assert rows3 == [] and skipped3 == 3


def test_only_runs_one_point_like_an_array_task(tmp_path):
    spec = _spec(tmp_path, "1,2,3")
    _, rows, _ = run_sweep(spec, SweepConfig(dir=str(tmp_path / "s"), executor="ray", only=1))
    assert [r["params"]["x"] for r in rows] == ["2"] and _runs(tmp_path) == ["2"]


def test_torn_last_line_is_ignored(tmp_path):
    log = SweepLog(tmp_path / "sweep.jsonl")
    log.append({"point": "a", "status": "ok"})
    with open(log.path, "a") as fh:
        fh.write('{"point": "b", "sta')
    assert log.finished_ids() == {"a"}


def test_command_line_dry_run_lists_points_without_running(tmp_path, capsys):
    code = main([sys.executable, JOB, "x=1,2", f"log={tmp_path / 'runs.log'}", "sweep.dry_run=true",
                 f"sweep.dir={tmp_path / 's'}"])
    assert code == 0 and not (tmp_path / "runs.log").exists()
    assert "2 points" in capsys.readouterr().out


def test_bad_sweep_option_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="bad sweep option"):
        main([sys.executable, JOB, "x=1", "sweep.no_such_option=1"])


def test_ray_runs_points_in_parallel_on_two_workers_and_resumes(tmp_path):
    """Two points wait for each other at a barrier: they finish only if they run concurrently."""
    spec = _spec(tmp_path, "1,2", f"barrier={tmp_path / 'barrier'}", "n=2")
    cfg = SweepConfig(dir=str(tmp_path / "sweep"), executor="ray", workers=2)
    root, rows, _ = run_sweep(spec, cfg)
    assert {r["status"] for r in rows} == {"ok"}
    assert all(r["result"]["peers_seen"] == 2 for r in rows)  # both had started: parallel
    # A grown sweep in the same folder: only the new point runs (serially: one pending point).
    spec3 = _spec(tmp_path, "1,2,3", f"barrier={tmp_path / 'barrier'}", "n=2")
    _, rows3, skipped = run_sweep(spec3, cfg)
    assert skipped == 2 and [r["params"]["x"] for r in rows3] == ["3"]
    assert sorted(_runs(tmp_path)) == ["1", "2", "3"]


def test_wandb_records_each_finished_point_offline(tmp_path):
    spec = _spec(tmp_path, "1,bad")
    _, rows, _ = run_sweep(
        spec, SweepConfig(dir=str(tmp_path / "s"), executor="serial", wandb=True, name="demo")
    )
    ok = next(r for r in rows if r["status"] == "ok")
    record = load_run(Path(ok["dir"]) / "tracking" / "run.json")
    assert record["experiment"] == "demo" and record["tags"] == ["sweep:demo", "x=1"]
    assert record["metrics"]["score"] == 2.0 and record["wandb"]  # an offline W&B run folder
    bad = next(r for r in rows if r["status"] != "ok")
    assert not (Path(bad["dir"]) / "tracking").exists()
