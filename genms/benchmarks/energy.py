"""``genms eval energy``: the formation-energy GNN (R_lo) on held-out data, and its throughput.

A bundle (default: the shipped one) on the held-out test split of its training data (MAE, RMSE,
ensemble calibration), on the MP-20 test subset and on WBM (out of distribution), plus the
inference throughput; writes ``benchmarks/results/energy.json`` (conf/eval_energy.yaml).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field

import jax
import numpy as np
from omegaconf import DictConfig

from genms.configs import ConfigError, ranged, typed
from genms.data.arrays import CrystalArrays
from genms.data.prepare import DataNotPreparedError, load_prepared
from genms.energy.predictor import DEFAULT_BUNDLE, load_predictor
from genms.io import atomic_write_json
from genms.paths import REPO_ROOT, PathsConfig, repo_path
from genms.progress import TextProgress, listening

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSet:
    name: str
    dataset: str
    split: str
    note: str = ""


@dataclass(frozen=True)
class EnergyEvalConfig:
    """``test`` and each of ``extra_sets`` are ``{name, dataset, split, note}`` (see
    :class:`EvalSet`)."""

    checkpoint: str | None = None  # bundle folder; None = the shipped bundle
    target: str = "formation_energy_per_atom"
    test: dict = field(
        default_factory=lambda: {"name": "test", "dataset": "mp_cgcnn", "split": "test"}
    )
    extra_sets: list[dict] = field(default_factory=list)
    speed_dataset: str = "mp_20"
    speed_split: str = "test"
    speed_min_structures: int = ranged(20000, 1, 10**8)
    speed_repeats: int = ranged(3, 1, 1000)
    output: str | None = "benchmarks/results/energy.json"

    def sets(self) -> tuple[EvalSet, list[EvalSet]]:
        def one(d) -> EvalSet:
            unknown = set(d) - {f.name for f in dataclasses.fields(EvalSet)}
            if unknown or not {"name", "dataset", "split"} <= set(d):
                raise ConfigError(
                    f"an eval set needs name, dataset, split (and optional note); got {dict(d)}"
                )
            return EvalSet(**d)

        return one(self.test), [one(d) for d in self.extra_sets]


def _errors(pred, target) -> dict:
    err = pred.e_form - target
    out = {
        "mae_ev_per_atom": float(np.mean(np.abs(err))),
        "rmse_ev_per_atom": float(np.sqrt(np.mean(err**2))),
        "n": int(len(err)),
        "in_range_fraction": float(np.mean(pred.in_range)),
        "mae_in_range": float(np.mean(np.abs(err[pred.in_range]))) if pred.in_range.any() else None,
    }
    if pred.std is not None:
        z = np.abs(err) / np.maximum(pred.std, 1e-6)
        out["ensemble"] = {
            "mean_std": float(np.mean(pred.std)),
            "within_1std": float(np.mean(z <= 1.0)),
            "within_2std": float(np.mean(z <= 2.0)),
            "spearman_abs_err_vs_std": _spearman(np.abs(err), pred.std),
        }
    return out


def _spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _throughput(predictor, arrays, min_structures: int, repeats: int) -> dict:
    reps = max(1, -(-min_structures // max(len(arrays), 1)))
    big = CrystalArrays.concatenate([arrays] * reps)
    log.info("throughput: %d structures, one warm-up pass then %d timed pass(es)", len(big),
             repeats)
    predictor.predict_arrays(big)  # compile every bucket shape
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predictor.predict_arrays(big)
        times.append(time.perf_counter() - t)
    best = min(times)
    return {"structures": len(big), "seconds": best, "structures_per_second": len(big) / best,
            "max_atoms": int(big.n_atoms.max())}


@dataclass(frozen=True)
class EvalEnergyConfig:
    """conf/eval_energy.yaml."""

    eval: EnergyEvalConfig = field(default_factory=EnergyEvalConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def eval_energy(cfg: EvalEnergyConfig | DictConfig) -> dict:
    """Runner of ``genms eval energy``: accuracy on the test sets + throughput -> JSON."""
    cfg = typed(EvalEnergyConfig, cfg)
    # compile and per-batch progress of the predictor, with an ETA
    with listening(TextProgress(prefix="genms eval energy: ")):
        return _eval_energy(cfg)


def _eval_energy(cfg: EvalEnergyConfig) -> dict:
    ev = cfg.eval
    cache_dir = cfg.paths.cache_dir
    ckpt = repo_path(ev.checkpoint) if ev.checkpoint else DEFAULT_BUNDLE
    predictor = load_predictor(ckpt)
    result: dict = {
        "checkpoint": str(ckpt.relative_to(REPO_ROOT))
        if ckpt.is_relative_to(REPO_ROOT)
        else str(ckpt),
        "command": "genms eval energy " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "hardware": f"{jax.devices()[0].device_kind} ({jax.default_backend()}, "
                    f"{jax.device_count()} device(s))",
        "bundle_dtype": predictor.extras.get("bundle", {}).get("dtype"),
        "ensemble_size": predictor.extras.get("ensemble_size", 1),
        "training": predictor.extras.get("provenance", {}).get("step"),
    }
    test_set, extra_sets = ev.sets()
    test = load_prepared(test_set.dataset, test_set.split, cache_dir)
    log.info("accuracy on %s/%s: %d structures", test_set.dataset, test_set.split, len(test))
    t = _errors(predictor.predict_arrays(test), test.targets[ev.target])
    result.update(
        {
            "mae_ev_per_atom": t["mae_ev_per_atom"],
            "rmse_ev_per_atom": t["rmse_ev_per_atom"],
            "n_test": t["n"],
            "test_set": f"{test_set.dataset}/{test_set.split}",
            "test": t,
        }
    )
    for s in extra_sets:
        try:
            arr = load_prepared(s.dataset, s.split, cache_dir)
        except DataNotPreparedError as exc:
            log.warning("skipping %s: %s", s.name, exc)
            result[f"mae_{s.name}"] = None
            continue
        y = arr.targets[ev.target]
        ok = np.isfinite(y)
        log.info("accuracy on %s/%s (%s): %d structures", s.dataset, s.split, s.name, ok.sum())
        e = _errors(predictor.predict_arrays(arr.subset(np.flatnonzero(ok))), y[ok])
        result[f"mae_{s.name}"] = e["mae_ev_per_atom"]
        result[s.name] = {**e, "set": f"{s.dataset}/{s.split}", "note": s.note}
    try:
        speed_arr = load_prepared(ev.speed_dataset, ev.speed_split, cache_dir)
    except DataNotPreparedError:
        speed_arr = test.subset(np.flatnonzero(test.n_atoms <= 20))
    sp = _throughput(predictor, speed_arr, ev.speed_min_structures, ev.speed_repeats)
    result["structures_per_second"] = sp["structures_per_second"]
    result["throughput"] = {
        **sp,
        "set": f"{ev.speed_dataset}/{ev.speed_split}",
        "what": "predict_arrays end to end: host packing, device neighbour search, GNN",
    }
    if ev.output:
        atomic_write_json(repo_path(ev.output), result)
        log.info("wrote %s", repo_path(ev.output))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))  # noqa: T201 - CLI output
    return result

