"""Runners of ``genms train diffusion`` and ``genms sample`` (Hydra configs in conf/).

* ``train``: builds :class:`DiffusionTask` from prepared arrays (or CSVs), optionally sizes
  ``train.steps`` to a wall-time budget (``time_budget_minutes``, :mod:`genms.train.budget`:
  a short timing of the train step, so the cosine schedule ends inside the budget), runs the
  shared loop and exports a float16 inference bundle.
* ``sample``: formulae -> CIF files (Z explicit or drawn from the bundle's prior).

``genms eval csp``, the CSP benchmark, is :mod:`genms.benchmarks.csp`; training reuses it for
its validation match rate (``val_match``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from genms.benchmarks.csp import CSPEvalConfig, run_csp_benchmark
from genms.configs import ranged, to_dataclass
from genms.console import exit_with, make_console, typed_command
from genms.crystal.composition import FormulaError, parse_formula
from genms.crystal.convert import to_cif
from genms.diffusion.bundle import read_training, record_training, samples_seen
from genms.diffusion.config import DiffusionConfig, DiffusionDataConfig, SamplerConfig
from genms.diffusion.data import load_split
from genms.diffusion.sampler import DiffusionSampler, load_sampler
from genms.diffusion.task import DiffusionTask
from genms.evaluate.validity import check_validity
from genms.io import append_json_line, atomic_write_json
from genms.models.denoisers import AnyDenoiserConfig, denoiser_config
from genms.paths import repo_path
from genms.progress import TextProgress, listening
from genms.search.api import select_device
from genms.train.budget import steps_in_budget, time_train_step, with_steps
from genms.train.bundle import META_FILE
from genms.train.checkpoint import latest_checkpoint_step
from genms.train.commands import run_training
from genms.train.config import OptimConfig, TrainConfig
from genms.train.export import export_from_run

log = logging.getLogger(__name__)

#: In a run directory started with ``train.init_from``: the bundle and the samples behind it.
WARM_START_FILE = "warm_start.json"


def export_target(path: str | Path, run_dir: str | Path) -> Path:
    """Where to export a bundle: a relative path inside the run folder
    (``${train.run_dir}/bundle``) is relative to the working directory, as the run folder is;
    other relative paths are the repo's."""
    p, run = Path(path), Path(run_dir)
    if p.is_absolute() or p == run or run in p.parents:
        return p
    return repo_path(p)


def model_config(node) -> AnyDenoiserConfig:
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    return denoiser_config(node)


def build_task(cfg: DictConfig) -> DiffusionTask:
    data = to_dataclass(DiffusionDataConfig, cfg.data)
    cache_dir = cfg.paths.cache_dir
    train = load_split(data.dataset, data.train_split, cache_dir, _csv(data.csv_train),
                       data.train_limit)
    val = load_split(data.dataset, data.val_split, cache_dir, _csv(data.csv_val), data.val_limit)
    return DiffusionTask(model_config(cfg.model), to_dataclass(DiffusionConfig, cfg.diffusion),
                         train, val, data.z_prior_min_count)


def _csv(path: str | None) -> str | None:
    """A CSV path of the config (repo-relative fixture paths allowed), or None."""
    return str(repo_path(path)) if path else None


def train(cfg: DictConfig) -> dict:
    """``genms train diffusion``."""
    train_cfg = to_dataclass(TrainConfig, cfg.train)  # bad values fail before the data loads
    optim_cfg = to_dataclass(OptimConfig, cfg.optim)
    t0 = time.time()
    task = build_task(cfg)
    log.info("data: %d train / %d val crystals (%.1f s)", task.num_examples("train"),
             task.num_examples("val"), time.time() - t0)
    budget = cfg.get("time_budget_minutes")
    if budget and not train_cfg.resume:
        per_step = time_train_step(task, train_cfg.batch_size, optim_cfg)
        # The loop also compiles, evaluates and checkpoints: keep a margin for that.
        steps = steps_in_budget(budget, per_step, float(cfg.get("time_budget_fraction", 0.9)))
        log.info("train step %.2f ms -> %d steps fit %.1f minutes", per_step * 1e3, steps, budget)
        cfg = with_steps(cfg, steps)
    export = cfg.get("export") or {}
    export_to = export_target(export["path"], train_cfg.run_dir) if export.get("path") else None
    export_dtype = export.get("dtype", "float16")
    if train_cfg.init_from and not train_cfg.resume:
        record_warm_start(train_cfg.run_dir, train_cfg.init_from)
    t_train = time.time()
    result = run_training(cfg, task, export_to=export_to, export_dtype=export_dtype)
    seconds = time.time() - t_train
    if export_to and not result.completed and export.get("when_incomplete", True):
        # A chunk stopped by train.max_minutes still yields a usable (EMA) bundle.
        export_from_run(result.run_dir, export_to, dtype=export_dtype)
        log.info("exported the unfinished run's latest checkpoint to %s", export_to)
    start = warm_start(result.run_dir)
    before = start["samples_seen_before"]
    seen = before + result.step * int(cfg.train.batch_size)
    val_match = None
    if int((cfg.get("val_match") or {}).get("n") or 0) > 0:
        params = result.ema_params if train_cfg.ema_decay else result.params
        val_match = validation_match(cfg, task, params)
        record = {"step": result.step, "samples_seen": seen,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "train_loss": result.last_metrics.get("train/loss"), **val_match}
        append_json_line(Path(result.run_dir) / "val_curve.jsonl", record)
        log.info("val match (k=1, %d cells): %s", int(cfg.val_match.n),
                 " ".join(f"{k}={v}" for k, v in val_match.items() if k.startswith("match_rate")))
    if export_to and (export_to / META_FILE).is_file():
        record_training(export_to, {
            "command": typed_command(), "steps": result.step, "completed": result.completed,
            "batch_size": int(cfg.train.batch_size), "train_crystals": task.num_examples("train"),
            "val_crystals": task.num_examples("val"), "loop_seconds": round(seconds, 1),
            "hardware": _hardware(), "final_metrics": result.last_metrics,
            "init_from": start["init_from"], "samples_seen": seen, "samples_seen_before": before,
            "val_match": val_match,
        })
    return {"run_dir": str(result.run_dir), "step": result.step, "completed": result.completed,
            "metrics": result.last_metrics, "bundle": str(export_to) if export_to else None,
            "samples_seen": seen, "val_match": val_match}


def samples_seen_before(bundle: str | None) -> int:
    """Crystal samples behind a warm-start bundle (its training record; 0 when none)."""
    return samples_seen(read_training(repo_path(bundle))) if bundle else 0


def record_warm_start(run_dir: str | Path, init_from: str) -> None:
    """Note in the run directory which bundle the run started from and the samples behind it.

    Resumed chunks (``train.resume=true``, no ``init_from``) read it back, so the training
    record of every chunk counts the warm-start bundle's samples.
    """
    if latest_checkpoint_step(run_dir) is not None:
        return  # not a new run: the loop refuses it without train.resume
    atomic_write_json(Path(run_dir) / WARM_START_FILE, {
        "init_from": init_from, "samples_seen_before": samples_seen_before(init_from)})


def warm_start(run_dir: str | Path) -> dict:
    """The run's warm-start note: ``init_from`` and ``samples_seen_before`` (None / 0 if none)."""
    path = Path(run_dir) / WARM_START_FILE
    note = json.loads(path.read_text()) if path.is_file() else {}
    return {"init_from": note.get("init_from"),
            "samples_seen_before": int(note.get("samples_seen_before", 0))}


def validation_match(cfg: DictConfig, task: DiffusionTask, params) -> dict:
    """CSP match rate (k = 1) of ``params`` on the first ``val_match.n`` validation cells.

    Model selection reads only this number (never the test split). One entry per sampler
    variant in ``val_match.variants`` (e.g. different step counts or anti-annealing), keyed
    ``match_rate_k1@<name>``; the first variant's numbers are also stored without a suffix.
    """
    vm = OmegaConf.to_container(cfg.val_match, resolve=True)
    data = to_dataclass(DiffusionDataConfig, cfg.data)
    val = load_split(data.dataset, data.val_split, cfg.paths.cache_dir, _csv(data.csv_val),
                     int(vm["n"]))
    gts = val.crystals()
    bundle = task.bundle(params)
    variants = vm.get("variants") or [{}]
    out: dict = {"val_cells": len(gts)}
    for i, variant in enumerate(variants):
        variant = dict(variant)
        name = str(variant.pop("name", i))
        scfg = to_dataclass(SamplerConfig, {**(vm.get("sampler") or {}), **variant})
        sampler = DiffusionSampler(bundle, scfg)
        ecfg = CSPEvalConfig(split=data.val_split, label="val", k=[1], seed=int(vm.get("seed", 0)),
                             workers=vm.get("workers"),
                             match_timeout_s=float(vm.get("match_timeout_s", 20.0)))
        res = run_csp_benchmark(ecfg, gts, sampler)
        keep = {k: res.get(k) for k in ("match_rate_k1", "match_rate_k1_ci", "rmse_k1",
                                        "validity", "structures_per_second",
                                        "sampling_seconds", "compile_seconds")}
        keep["match_rate_k1_by_size"] = {b: v["match_rate_k1"]
                                         for b, v in res.get("by_size", {}).items()}
        keep.update(res["sampler"])  # the resolved settings that ship.py copies into a bundle
        out[f"variant@{name}"] = keep
        out[f"match_rate_k1@{name}"] = keep["match_rate_k1"]
        if i == 0:
            out.update({k: keep[k] for k in ("match_rate_k1", "rmse_k1", "validity")})
    return out


def _hardware() -> str:
    dev = jax.devices()[0]
    return f"{dev.platform}:{getattr(dev, 'device_kind', '')} x{jax.device_count()}"


@dataclass(frozen=True)
class SampleOptions:
    """The numeric top-level options of ``genms sample`` (conf/sample.yaml), checked by the CLI."""

    n: int = ranged(4, 1, 10_000)
    seed: int = ranged(0, 0, 2**32 - 1)


def sample(cfg: DictConfig) -> list[str]:
    """``genms sample <formulae...>``: write ``n`` CIFs per formula to ``out_dir``."""
    formulae = list(cfg.formulae or [])
    if not formulae:
        exit_with("genms sample: give at least one formula, e.g. `genms sample SrTiO3 NaCl n=4`")
    for f in formulae:
        try:
            parse_formula(f)
        except FormulaError as exc:
            exit_with(f"genms sample: {exc}")
    z = cfg.get("formula_units")
    if z is not None and not isinstance(z, int):
        values = list(OmegaConf.to_container(z)) if OmegaConf.is_list(z) else [z]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            exit_with(f"genms sample: formula_units={z} must be a positive integer, a list of "
                      "them (one per formula) or null")
        z = values if OmegaConf.is_list(z) else values[0]
    scfg = to_dataclass(SamplerConfig, cfg.sampler)
    # a second run reuses the compiled sampler
    select_device("auto", cfg.get("compilation_cache", "auto"))
    try:
        sampler = load_sampler(scfg.bundle, scfg)
    except FileNotFoundError as exc:
        exit_with(f"genms sample: {exc}")
    n = int(cfg.n)
    t0 = time.time()
    try:
        # compile and per-batch progress, with an ETA
        with listening(TextProgress(prefix="genms sample: ")):
            groups = sampler.sample(formulae, n, jax.random.key(int(cfg.seed)), z)
    except ValueError as exc:
        exit_with(f"genms sample: {exc}")
    seconds = time.time() - t0
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    # a formula given twice, or already sampled into out_dir by an earlier call, continues its
    # numbering: no file is overwritten
    numbered: dict[str, int] = {}
    for formula in dict.fromkeys(formulae):
        numbered[formula] = next_sample_index(out_dir, formula)
        if numbered[formula]:
            sys.stderr.write(
                f"genms sample: {out_dir} already holds {formula}_000.cif … "
                f"{formula}_{numbered[formula] - 1:03d}.cif; the new ones start at "
                f"{formula}_{numbered[formula]:03d}.cif (out_dir=... for a fresh folder)\n"
            )
    for formula, group in zip(formulae, groups, strict=True):
        start = numbered.get(formula, 0)
        numbered[formula] = start + len(group)
        for j, crystal in enumerate(group, start=start):
            path = out_dir / f"{formula}_{j:03d}.cif"
            tmp = path.with_suffix(".cif.tmp")
            tmp.write_text(to_cif(crystal))
            tmp.replace(path)
            written.append(str(path))
            v = check_validity(crystal) if cfg.get("check_validity", True) else None
            rows.append((path.name, crystal.n_atoms, f"{crystal.volume:.1f}",
                         "-" if v is None else f"{v.min_distance:.2f}",
                         "-" if v is None else str(v.struct_valid)))
    _print_table(rows, f"{len(written)} structures in {seconds:.1f} s -> {out_dir}")
    return written


def next_sample_index(out_dir: Path, formula: str) -> int:
    """One past the highest ``<formula>_NNN.cif`` number in ``out_dir`` (0 when there is none)."""
    pattern = re.compile(rf"{re.escape(formula)}_(\d+)\.cif")
    if not out_dir.is_dir():
        return 0
    found = [int(m.group(1)) for p in out_dir.iterdir() if (m := pattern.fullmatch(p.name))]
    return max(found) + 1 if found else 0


def _print_table(rows, title: str) -> None:
    table = Table(title=title)
    for col in ("file", "atoms", "volume Å³", "min dist Å", "struct. valid"):
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(x) for x in r])
    make_console().print(table)
