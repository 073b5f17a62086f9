"""Metric writers: JSON lines always; W&B offline writes a local run and never needs the network."""

from __future__ import annotations

import json

from genms.tracking.writers import JsonlWriter, WandbWriter, build_writer
from genms.train.config import LoggerConfig


def test_jsonl_writer_appends_and_stringifies_nonfinite(tmp_path):
    w = JsonlWriter(tmp_path / "m.jsonl")
    w.write(1, {"a": 1.5, "b": float("nan")})
    w.write(2, {"a": 2})
    w.write_config({"x": 1})
    w.close()
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert rows == [{"step": 1, "a": 1.5, "b": "nan"}, {"step": 2, "a": 2.0}]
    assert json.loads((tmp_path / "config.json").read_text()) == {"x": 1}


def test_wandb_offline_run_is_written_locally(tmp_path):
    w = WandbWriter(
        tmp_path, project="genms-test", mode="offline", group="g", tags=["t"], config={"k": 1}
    )
    assert w.active
    w.write(1, {"loss": 0.5})
    w.close()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs, list(tmp_path.rglob("*"))


def test_build_writer_respects_flags(tmp_path):
    mw = build_writer(LoggerConfig(jsonl=True, wandb=False), tmp_path)
    assert len(mw.writers) == 1
    mw.close()
