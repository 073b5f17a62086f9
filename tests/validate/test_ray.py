"""The batch on a private local Ray: one task per structure, results journaled as they finish."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")

from genms.parallel.executor import ExecutorConfig  # noqa: E402
from genms.validate.batch import run_validation  # noqa: E402
from genms.validate.config import LaunchConfig  # noqa: E402

from .helpers import cu3au_task, emt_config  # noqa: E402


@pytest.mark.slow
def test_ray_batch_matches_the_serial_batch(tmp_path):
    tasks = [cu3au_task("a"), cu3au_task("b"), cu3au_task("c")]
    serial = run_validation(tasks, emt_config(tmp_path), tmp_path / "serial")
    cfg = emt_config(
        tmp_path,
        launch=LaunchConfig(),
        executor=ExecutorConfig(name="ray", num_cpus=2, max_retries=0),
    )
    seen: list[str] = []
    ray_run = run_validation(tasks, cfg, tmp_path / "ray", on_record=lambda r: seen.append(r["id"]))
    assert sorted(seen) == ["a", "b", "c"]
    assert [r["status"] for r in ray_run.records] == ["ok"] * 3
    for s, r in zip(serial.records, ray_run.records, strict=True):
        assert r["e_form_dft"] == pytest.approx(s["e_form_dft"], abs=1e-9)
    lines = (tmp_path / "ray" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4
