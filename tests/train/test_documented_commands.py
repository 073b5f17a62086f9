"""The training command lines of the docs, run exactly as written from an empty folder.

No ``train.run_dir=``: the run folder comes from the config (``runs/<task>/<time>``), relative
to the working directory, and so does the exported bundle of ``debug=diffusion_tiny``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from genms.cli import main

REPO = Path(__file__).resolve().parents[2]

DOCUMENTED = [
    ("docs/diffusion.md", "genms train diffusion debug=diffusion_tiny", "diffusion", 1),
    ("docs/energy.md", "genms train energy debug=energy_tiny", "energy", 1),
    ("docs/experiments.md", "genms -m train energy debug=energy_tiny seed=0,1", "energy", 2),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("doc", "line", "task", "runs"), DOCUMENTED, ids=[d[1][6:] for d in DOCUMENTED]
)
def test_documented_training_command_runs_as_written(
    doc, line, task, runs, tmp_path, monkeypatch
):
    assert line in (REPO / doc).read_text(), f"{line!r} is no longer in {doc}"
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(line)[1:]) == 0
    run_dirs = sorted((tmp_path / "runs" / task).iterdir())
    assert len(run_dirs) == runs, run_dirs
    seeds = set()
    for run in run_dirs:
        assert (run / "checkpoints").is_dir() and (run / "metrics.jsonl").is_file()
        config = json.loads((run / "config.json").read_text())
        seeds.add(config["train"]["seed"])
        # export.path: ${train.run_dir}/bundle, beside the run, not in the repo
        if task == "diffusion":
            assert (run / "bundle" / "bundle.json").is_file()
    assert len(seeds) == runs  # -m seed=0,1 reaches train.seed
    logs = sorted(tmp_path.glob("*/**/*.log"))  # Hydra's job log: every line the run logged
    assert len(logs) == runs, logs
    for path in logs:
        lines = path.read_text().splitlines()
        noisy = [ln for ln in lines if "[absl]" in ln or "[jax" in ln]
        assert not noisy, "library INFO logs are not quiet"
        # progress with an ETA
        assert [ln for ln in lines if "train: step" in ln and "ETA" in ln], lines
        assert len(lines) < 20, lines
