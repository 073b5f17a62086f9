"""Shipping a run's bundle: the sampler defaults come from a variant measured on validation, and
the training record keeps the history of the bundles it replaces."""

from __future__ import annotations

import shutil

import pytest

from genms.diffusion.bundle import read_training, record_training
from genms.diffusion.sampler import load_sampler
from genms.diffusion.ship import main, ship
from genms.train.bundle import read_meta

VARIANT = {"match_rate_k1": 0.49, "steps": 7, "integrator": "heun", "anneal_coords": 10.0,
           "anneal_cap": True}


def _run_bundle(tiny_bundle, path, steps, seen):
    shutil.copytree(tiny_bundle, path)
    record_training(path, {"steps": steps, "samples_seen": seen, "val_match": {
        "val_cells": 100, "match_rate_k1": 0.4, "variant@heun7": VARIANT}})
    return path


def test_ship_sets_the_chosen_sampler_and_keeps_the_history(tiny_bundle, tmp_path):
    dest = tmp_path / "shipped"
    ship(_run_bundle(tiny_bundle, tmp_path / "a", 10, 1_000), dest, "heun7", [2.0, 3.0], "best")
    second = _run_bundle(tiny_bundle, tmp_path / "b", 30, 5_000)
    (dest / "params.msgpack.part07").write_bytes(b"a part of an earlier, split bundle")
    ship(second, dest, "heun7", [1.5], "cheapest within noise")

    diffusion = read_meta(dest)["diffusion"]
    assert (diffusion["sampling_steps"], diffusion["integrator"]) == (7, "heun")
    assert (diffusion["anneal_coords"], diffusion["anneal_cap"]) == (10.0, True)
    sampler = load_sampler(dest)
    assert (sampler.steps, sampler.integrator, sampler.anneal_coords) == (7, "heun", 10.0)

    t = read_training(dest)
    assert (t["steps"], t["samples_seen"]) == (30, 5_000)
    assert t["gpu_minutes_training_loop"] == 6.5  # 2 + 3, then 1.5 more
    assert t["chunks_loop_minutes"] == [1.5]
    assert [h["samples_seen"] for h in t["history"]] == [1_000]
    assert t["history"][0]["gpu_minutes_training_loop"] == 5.0
    assert t["sampler_choice"].startswith("heun, 7 steps") and "cheapest" in t["sampler_choice"]
    assert (dest / "params.msgpack").read_bytes() == (second / "params.msgpack").read_bytes()
    assert not (dest / "params.msgpack.part07").exists()


def test_ship_refuses_a_variant_that_was_not_measured(tiny_bundle, tmp_path):
    src = _run_bundle(tiny_bundle, tmp_path / "a", 10, 1_000)
    with pytest.raises(ValueError, match="measured: heun7"):
        ship(src, tmp_path / "shipped", "euler100", [1.0], "x")
    assert not (tmp_path / "shipped").exists()
    with pytest.raises(SystemExit, match="no validation measurement of variant 'euler100'"):
        main([str(src), str(tmp_path / "shipped"), "--variant", "euler100",
              "--loop-minutes", "1", "--reason", "x"])
