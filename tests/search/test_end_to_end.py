"""`genms generate` end to end on the real components: the language level, a tiny (untrained)
denoiser bundle built here, and the shipped energy GNN. Checks the plumbing, not the chemistry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from genms.diffusion.config import DiffusionConfig
from genms.diffusion.data import arrays_from_csv
from genms.diffusion.task import DiffusionTask
from genms.models.denoiser import DenoiserConfig
from genms.paths import MODELS_DIR
from genms.train.bundle import save_bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_denoiser(tmp_path_factory) -> Path:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    model = DenoiserConfig(
        base_width=32,
        width_multipliers=(1, 2),
        blocks_per_level=1,
        mid_blocks=1,
        head_dim=16,
        mlp_expansion=2,
        dropout=0.0,
        time_embed_dim=32,
    )
    task = DiffusionTask(model, DiffusionConfig(sampling_steps=2, compute_dtype="float32"),
                         arrays_from_csv(fixtures / "mp20_train_sample.csv"),
                         arrays_from_csv(fixtures / "mp20_test_sample.csv"))
    params = task.init(jax.random.key(0), task.make_batch("train", [0, 1, 2, 3], 4))
    return save_bundle(
        tmp_path_factory.mktemp("models") / "denoiser", params, task.checkpoint_extras()
    )


@pytest.mark.skipif(
    not (MODELS_DIR / "energy" / "bundle.json").is_file(), reason="no shipped energy GNN"
)
def test_generate_end_to_end(tiny_denoiser, tmp_path):
    # A separate process, as a user runs it (Hydra's logging setup stays out of pytest's capture).
    args = [
        "generate",
        "a novel chloride perovskite",
        f"sampler.bundle={tiny_denoiser}",
        "sampler.steps=2",
        "search.H=6",
        "search.W=2",
        "search.L=2",
        "search.formula_units=[1]",
        "search.filters.trusted_range=false",
        "search.top_k=2",
        "out_dir=run",
        f"compilation_cache={tmp_path / 'jax'}",
        "device=cpu",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "genms.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    code, out = proc.returncode, proc.stdout + proc.stderr
    assert "Traceback" not in out
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_candidates"] == 4 and summary["n_expanded"] == 2
    assert code == (0 if summary["status"] == "ok" else 1), out
    assert "run folder" in out
    formulae = json.loads((run / "formulae.json").read_text())
    assert all("Cl" in f["formula"] for f in formulae if f["expanded"])
    records = json.loads((run / "candidates.json").read_text())
    assert all(r["n_atoms"] == 5 for r in records)  # Z = 1 of an ABCl3 formula
    assert all(r["e_form_ev_per_atom"] is not None for r in records if r["status"] == "kept")
    assert (run / "report.md").is_file() and (run / "versions.json").is_file()
    if summary["status"] == "ok":
        assert len(list((run / "cifs").glob("*.cif"))) == min(2, len(summary["top"]))
