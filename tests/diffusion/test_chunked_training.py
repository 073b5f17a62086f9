"""Training in chunks (`scripts/train_chunk.sh`): a warm-started run resumed by later chunks.

Every chunk's training record counts the samples behind the warm-start bundle, also the chunks
that resume the run with ``train.resume=true`` and no ``train.init_from``.
"""

from __future__ import annotations

import shutil

import pytest

from genms.cli import main
from genms.diffusion.bundle import read_training, record_training

TINY = ["debug=diffusion_tiny", "train.batch_size=4", "train.ckpt_every=2", "train.eval_every=100"]


@pytest.mark.slow
def test_resumed_chunks_count_the_warm_start_bundles_samples(tiny_bundle, tmp_path):
    shutil.copytree(tiny_bundle, tmp_path / "first" / "bundle")  # the debug preset's network
    first, before = tmp_path / "first", 1_000
    record_training(first / "bundle", {"samples_seen": before})

    run = tmp_path / "run"
    args = ["train", "diffusion", *TINY, f"train.run_dir={run}", "train.steps=4"]
    # chunk 1: warm start, stopped by its time limit after the first of 4 steps
    assert main([*args, f"train.init_from={first / 'bundle'}", "train.max_minutes=0"]) == 0
    chunk1 = read_training(run / "bundle")
    assert (chunk1["steps"], chunk1["completed"]) == (1, False)
    assert chunk1["samples_seen_before"] == before
    assert chunk1["samples_seen"] == before + 1 * 4
    # chunk 2: resumes the run; no init_from on its command line
    assert main([*args, "train.resume=true"]) == 0
    chunk2 = read_training(run / "bundle")
    assert chunk2["steps"] == 4 and chunk2["completed"]
    assert chunk2["init_from"] == str(first / "bundle")
    assert (chunk2["samples_seen_before"], chunk2["samples_seen"]) == (before, before + 4 * 4)
