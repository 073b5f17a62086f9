"""Shipping a run's bundle: the sampler defaults come from a variant measured on validation, and
the training record keeps the history of the bundles it replaces."""

from __future__ import annotations

import json
import shutil

import pytest

from genms.diffusion.bundle import read_training, record_training
from genms.diffusion.sampler import load_sampler
from genms.diffusion.ship import main, ship, variant_name
from genms.train.bundle import params_checksum, read_meta

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


def _val_eval(path, bundle, split="val", steps=25):
    settings = {"process": "flow", "steps": steps, "gamma": 0.1, "integrator": "heun",
                "anneal_coords": 10.0, "anneal_lattice": 0.0, "anneal_cap": True}
    path.write_text(json.dumps({
        "split": split, "n_test": 1000, "match_rate_k1": 0.53, "match_rate_k1_ci": [0.5, 0.56],
        "rmse_k1": 0.06, "validity": 0.88, "command": "genms eval csp ...", "sampler": settings,
        "checkpoint": {"params_sha256_16": params_checksum(bundle)},
        "test_source": {"csv": "val_rows.csv"}}))
    return path


def test_ship_takes_a_variant_from_a_validation_eval_of_the_same_bundle(tiny_bundle, tmp_path):
    src = _run_bundle(tiny_bundle, tmp_path / "a", 10, 1_000)
    result = _val_eval(tmp_path / "val.json", src)
    assert variant_name(json.loads(result.read_text())["sampler"]) == "heun25_anneal10"
    main([str(src), str(tmp_path / "shipped"), "--variant", "heun25_anneal10",
          "--loop-minutes", "1", "--reason", "as good as 50 steps at half the cost",
          "--val-eval", str(result)])
    assert load_sampler(tmp_path / "shipped").steps == 25
    t = read_training(tmp_path / "shipped")
    assert t["val_eval"]["heun25_anneal10"]["match_rate_k1"] == 0.53
    assert t["val_eval"]["heun25_anneal10"]["csv"] == "val_rows.csv"
    assert t["sampler_choice"].startswith("heun, 25 steps")


def test_ship_refuses_test_results_and_evals_of_other_parameters(tiny_bundle, tmp_path):
    src = _run_bundle(tiny_bundle, tmp_path / "a", 10, 1_000)
    on_test = _val_eval(tmp_path / "test.json", src, split="test")
    with pytest.raises(ValueError, match="chosen on validation only"):
        ship(src, tmp_path / "shipped", "heun25_anneal10", [1.0], "x", [on_test])
    other = _val_eval(tmp_path / "other.json", src)
    (src / "params.msgpack").write_bytes((src / "params.msgpack").read_bytes() + b"\0")
    with pytest.raises(ValueError, match="other parameters"):
        ship(src, tmp_path / "shipped", "heun25_anneal10", [1.0], "x", [other])
    assert not (tmp_path / "shipped").exists()
    assert variant_name({"integrator": "euler", "steps": 100, "anneal_coords": 0.0}) == "euler100"
    assert variant_name({"integrator": "heun", "steps": 50, "anneal_coords": 10.0,
                         "anneal_cap": False}) == "heun50_anneal10_uncapped"
    assert variant_name({"integrator": "heun", "steps": 25, "anneal_coords": 10.0,
                         "churn": 10.0, "churn_until": 0.9}) == "heun25_anneal10_churn10_until0.9"
