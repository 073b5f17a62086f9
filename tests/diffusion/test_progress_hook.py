"""π_lo reports its compile and per-batch progress (genms.progress), and `genms sample` shows it."""

from __future__ import annotations

import jax

from genms.cli import COMMANDS, run_command
from genms.diffusion.sampler import load_sampler
from genms.progress import listening

from .conftest import TINY_SAMPLER
from .test_commands import SMALL


def test_sampler_reports_compiling_then_each_batch(tiny_bundle):
    sampler = load_sampler(tiny_bundle, TINY_SAMPLER)  # fresh: nothing compiled yet
    events = []
    with listening(lambda *e: events.append(e)):
        sampler.sample(
            ["NaCl", "SrTiO3"], 3, jax.random.key(0), [2, 2]
        )  # 4 and 10 atoms: two buckets
    compile_events = [e for e in events if e[0] == "compile"]
    assert [e[1:3] for e in compile_events] == [(0, 2), (1, 2), (2, 2)]
    assert "cells of <= 8 atoms" in compile_events[0][3]
    sample_events = [e for e in events if e[0] == "sample"]
    assert sample_events[0][1:3] == (0, 6) and sample_events[-1][1:3] == (6, 6)
    done = [e[1] for e in sample_events]
    assert done == sorted(done) and len(set(done)) > 2  # one report per batch, not only at the end
    events.clear()
    with listening(lambda *e: events.append(e)):  # compiled already: no compile reports
        sampler.sample(["NaCl"], 2, jax.random.key(1), [2])
    assert not [e for e in events if e[0] == "compile"]


def test_genms_sample_prints_progress_with_an_eta(tiny_bundle, tmp_path, capfd):
    run_command(
        COMMANDS[("sample", "")],
        "sample",
        [
            "formulae=[NaCl,SrTiO3]",
            "n=2",
            "formula_units=2",
            f"out_dir={tmp_path / 'cifs'}",
            f"sampler.bundle={tiny_bundle}",
            *SMALL,
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("genms sample: ")]
    assert any("compile: 0/" in ln and "ETA" in ln and "the sampler for" in ln for ln in lines), err
    assert any(ln.startswith("genms sample: sample: 4/4 (100 %)") for ln in lines), err
