"""Runners of ``genms train diffusion``, ``genms sample`` and ``genms eval csp`` (Hydra configs in conf/).

* ``train``: builds :class:`DiffusionTask` from prepared arrays (or CSVs), optionally sizes
  ``train.steps`` to a wall-time budget (``time_budget_minutes``: a short timing of the train
  step, so the cosine schedule ends inside the budget), runs the shared loop and exports a
  float16 inference bundle.
* ``sample``: formulae -> CIF files (Z explicit or drawn from the bundle's prior).
* ``eval_csp``: the CSP benchmark (:mod:`genms.diffusion.csp_benchmark`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from genms.configs import ranged, to_dataclass
from genms.console import exit_with
from genms.diffusion.config import DiffusionConfig, DiffusionDataConfig, SamplerConfig
from genms.io import append_json_line
from genms.models.denoisers import AnyDenoiserConfig, denoiser_config
from genms.paths import REPO_ROOT

log = logging.getLogger(__name__)


def repo_path(p: str | Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else REPO_ROOT / p


def export_target(path: str | Path, run_dir: str | Path) -> Path:
    """Where to export a bundle: a relative path inside the run folder (``${train.run_dir}/bundle``)
    is relative to the working directory, as the run folder is; other relative paths are the repo's."""
    p, run = Path(path), Path(run_dir)
    if p.is_absolute() or p == run or run in p.parents:
        return p
    return repo_path(p)


def command_line() -> str:
    """The command as typed (the CLI puts ``genms <cmd>`` and the overrides in ``sys.argv``)."""
    return " ".join([sys.argv[0]] + [shlex.quote(a) for a in sys.argv[1:]])


def model_config(node) -> AnyDenoiserConfig:
    return denoiser_config(OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node)




def build_task(cfg: DictConfig):
    from genms.diffusion.data import load_split
    from genms.diffusion.task import DiffusionTask

    data = to_dataclass(DiffusionDataConfig, cfg.data)
    cache_dir = cfg.paths.cache_dir
    csv = lambda p: str(repo_path(p)) if p else None  # noqa: E731 - repo-relative fixture paths
    train = load_split(data.dataset, data.train_split, cache_dir, csv(data.csv_train), data.train_limit)
    val = load_split(data.dataset, data.val_split, cache_dir, csv(data.csv_val), data.val_limit)
    return DiffusionTask(model_config(cfg.model), to_dataclass(DiffusionConfig, cfg.diffusion), train, val,
                         data.z_prior_min_count)


def time_train_step(task, batch_size: int, optim_cfg, n: int = 20) -> float:
    """Seconds per training step (loss, gradient, optimiser update) after compilation."""
    import jax
    import optax

    from genms.train.optim import build_optimizer

    tx = build_optimizer(optim_cfg, 10_000)
    rng = np.random.default_rng(0)
    batches = [task.make_batch("train", rng.choice(task.num_examples("train"), min(batch_size, task.num_examples("train")),
                                                   replace=False).tolist(), batch_size) for _ in range(2)]
    params = task.init(jax.random.key(0), batches[0])
    opt = tx.init(params)

    @jax.jit
    def step(p, o, b, key):
        (loss, _), g = jax.value_and_grad(task.loss, has_aux=True)(p, b, key, True)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss

    params, opt, loss = step(params, opt, batches[0], jax.random.key(0))
    jax.block_until_ready(loss)
    t = time.perf_counter()
    for i in range(n):
        params, opt, loss = step(params, opt, batches[i % 2], jax.random.key(i))
    jax.block_until_ready(loss)
    return (time.perf_counter() - t) / n


def train(cfg: DictConfig) -> dict:
    """``genms train diffusion``."""
    from genms.train.commands import run_training
    from genms.train.config import OptimConfig, TrainConfig

    train_cfg = to_dataclass(TrainConfig, cfg.train)  # bad values fail before the data loads
    to_dataclass(OptimConfig, cfg.optim)
    t0 = time.time()
    task = build_task(cfg)
    log.info("data: %d train / %d val crystals (%.1f s)", task.num_examples("train"), task.num_examples("val"),
             time.time() - t0)
    budget = cfg.get("time_budget_minutes")
    if budget and not train_cfg.resume:
        per_step = time_train_step(task, train_cfg.batch_size, to_dataclass(OptimConfig, cfg.optim))
        # The loop also compiles, evaluates and checkpoints: keep a margin for that.
        steps = max(int(budget * 60 * float(cfg.get("time_budget_fraction", 0.9)) / per_step), 10)
        log.info("train step %.2f ms -> %d steps fit %.1f minutes", per_step * 1e3, steps, budget)
        with open_dict(cfg):
            cfg.train.steps = steps
            cfg.train.eval_every = min(int(cfg.train.eval_every), steps)
            cfg.train.ckpt_every = min(int(cfg.train.ckpt_every), steps)
    export = cfg.get("export") or {}
    export_to = export_target(export["path"], train_cfg.run_dir) if export.get("path") else None
    t_train = time.time()
    result = run_training(cfg, task, export_to=export_to, export_dtype=export.get("dtype", "float16"))
    seconds = time.time() - t_train
    if export_to and not result.completed and export.get("when_incomplete", True):
        # A chunk stopped by train.max_minutes still yields a usable (EMA) bundle.
        from genms.train.bundle import export_from_run

        export_from_run(result.run_dir, export_to, dtype=export.get("dtype", "float16"))
        log.info("exported the unfinished run's latest checkpoint to %s", export_to)
    before = samples_seen_before(train_cfg.init_from)
    seen = before + result.step * int(cfg.train.batch_size)
    val_match = None
    if int((cfg.get("val_match") or {}).get("n") or 0) > 0:
        val_match = validation_match(cfg, task, result.ema_params if train_cfg.ema_decay else result.params)
        record = {"step": result.step, "samples_seen": seen, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "train_loss": result.last_metrics.get("train/loss"), **val_match}
        append_json_line(Path(result.run_dir) / "val_curve.jsonl", record)
        log.info("val match (k=1, %d cells): %s", int(cfg.val_match.n),
                 " ".join(f"{k}={v}" for k, v in val_match.items() if k.startswith("match_rate")))
    if export_to and (export_to / "bundle.json").is_file():
        record_training(export_to, {
            "command": command_line(), "steps": result.step, "completed": result.completed,
            "batch_size": int(cfg.train.batch_size), "train_crystals": task.num_examples("train"),
            "val_crystals": task.num_examples("val"), "loop_seconds": round(seconds, 1),
            "hardware": _hardware(), "final_metrics": result.last_metrics,
            "init_from": train_cfg.init_from, "samples_seen": seen, "samples_seen_before": before,
            "val_match": val_match,
        })
    return {"run_dir": str(result.run_dir), "step": result.step, "completed": result.completed,
            "metrics": result.last_metrics, "bundle": str(export_to) if export_to else None,
            "samples_seen": seen, "val_match": val_match}


def samples_seen_before(bundle: str | None) -> int:
    """Crystal samples behind a warm-start bundle (its training record; 0 when none)."""
    if not bundle:
        return 0
    meta_file = repo_path(bundle) / "bundle.json"
    training = json.loads(meta_file.read_text()).get("training", {}) if meta_file.is_file() else {}
    if "samples_seen" in training:
        return int(training["samples_seen"])
    return int(training.get("steps", 0)) * int(training.get("batch_size", 0))


def validation_match(cfg: DictConfig, task, params) -> dict:
    """CSP match rate (k = 1) of ``params`` on the first ``val_match.n`` validation cells.

    Model selection reads only this number (never the test split). One entry per sampler
    variant in ``val_match.variants`` (e.g. different step counts or anti-annealing), keyed
    ``match_rate_k1@<name>``; the first variant's numbers are also stored without a suffix.
    """
    from genms.diffusion.csp_benchmark import CSPEvalConfig, run_csp_benchmark
    from genms.diffusion.data import load_split
    from genms.diffusion.sampler import DiffusionSampler

    vm = OmegaConf.to_container(cfg.val_match, resolve=True)
    data = to_dataclass(DiffusionDataConfig, cfg.data)
    val = load_split(data.dataset, data.val_split, cfg.paths.cache_dir,
                     str(repo_path(data.csv_val)) if data.csv_val else None, int(vm["n"]))
    gts = val.crystals()
    extras = task.checkpoint_extras()
    variants = vm.get("variants") or [{}]
    out: dict = {"val_cells": len(gts)}
    for i, variant in enumerate(variants):
        variant = dict(variant)
        name = str(variant.pop("name", i))
        scfg = sampler_config({**(vm.get("sampler") or {}), **variant})
        sampler = DiffusionSampler(params, extras, scfg)
        ecfg = CSPEvalConfig(split=data.val_split, label="val", k=[1], seed=int(vm.get("seed", 0)),
                             workers=vm.get("workers"), match_timeout_s=float(vm.get("match_timeout_s", 20.0)))
        res = run_csp_benchmark(ecfg, gts, sampler)
        keep = {k: res.get(k) for k in ("match_rate_k1", "match_rate_k1_ci", "rmse_k1", "validity",
                                        "structures_per_second", "sampling_seconds", "compile_seconds")}
        keep["match_rate_k1_by_size"] = {b: v["match_rate_k1"] for b, v in res.get("by_size", {}).items()}
        keep.update({"steps": sampler.steps, "integrator": sampler.integrator, "anneal_coords": sampler.anneal_coords})
        out[f"variant@{name}"] = keep
        out[f"match_rate_k1@{name}"] = keep["match_rate_k1"]
        if i == 0:
            out.update({k: keep[k] for k in ("match_rate_k1", "rmse_k1", "validity")})
    return out


def _hardware() -> str:
    import jax

    dev = jax.devices()[0]
    return f"{dev.platform}:{getattr(dev, 'device_kind', '')} x{jax.device_count()}"


def record_training(bundle: Path, training: dict) -> None:
    """Add how the model was trained to the bundle's ``bundle.json`` (atomic rewrite)."""
    meta_file = bundle / "bundle.json"
    meta = json.loads(meta_file.read_text())
    meta["training"] = {**meta.get("training", {}), **training}
    tmp = meta_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=float))
    tmp.replace(meta_file)


def sampler_config(node) -> SamplerConfig:
    cfg = to_dataclass(SamplerConfig, node)
    return SamplerConfig(**{**cfg.__dict__, "buckets": tuple(cfg.buckets)})


@dataclass(frozen=True)
class SampleOptions:
    """The numeric top-level options of ``genms sample`` (conf/sample.yaml), checked by the CLI."""

    n: int = ranged(4, 1, 10_000)
    seed: int = ranged(0, 0, 2**32 - 1)


def sample(cfg: DictConfig) -> list[str]:
    """``genms sample <formulae...>``: write ``n`` CIFs per formula to ``out_dir``."""
    import jax

    from genms.crystal.composition import FormulaError, parse_formula
    from genms.crystal.convert import to_cif
    from genms.diffusion.sampler import load_sampler
    from genms.evaluate.validity import check_validity

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
    scfg = sampler_config(cfg.sampler)
    from genms.search.api import select_device

    select_device("auto", cfg.get("compilation_cache", "auto"))  # a second run reuses the compiled sampler
    try:
        sampler = load_sampler(scfg.bundle, scfg)
    except FileNotFoundError as exc:
        exit_with(f"genms sample: {exc}")
    n = int(cfg.n)
    t0 = time.time()
    from genms.progress import TextProgress, listening

    try:
        with listening(TextProgress(prefix="genms sample: ")):  # compile and per-batch progress, with an ETA
            groups = sampler.sample(formulae, n, jax.random.key(int(cfg.seed)), z)
    except ValueError as exc:
        exit_with(f"genms sample: {exc}")
    seconds = time.time() - t0
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    numbered: dict[str, int] = {}  # a formula given twice continues its numbering: no file is overwritten
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
                         "-" if v is None else f"{v.min_distance:.2f}", "-" if v is None else str(v.struct_valid)))
    _print_table(rows, f"{len(written)} structures in {seconds:.1f} s -> {out_dir}")
    return written


def _print_table(rows, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("file", "atoms", "volume Å³", "min dist Å", "struct. valid"):
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(x) for x in r])
    Console().print(table)


def bundle_checksum(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.glob("params.msgpack*")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def eval_csp(cfg: DictConfig) -> dict:
    """``genms eval csp``: match rate / RMSE at k = 1 and k = K; writes the JSON result."""
    from genms.diffusion.csp_benchmark import CSPEvalConfig, run_csp_benchmark, write_result
    from genms.diffusion.data import load_split
    from genms.diffusion.sampler import default_bundle_path, load_sampler

    node = OmegaConf.to_container(cfg.eval, resolve=True)
    scfg = sampler_config(node.pop("sampler", {}))
    ecfg = to_dataclass(CSPEvalConfig, node)
    ecfg = CSPEvalConfig(**{**ecfg.__dict__, "sampler": scfg})
    test = load_split(ecfg.dataset, ecfg.split, cfg.paths.cache_dir, str(repo_path(ecfg.csv)) if ecfg.csv else None,
                      ecfg.limit)
    gts = test.crystals()
    bundle = Path(scfg.bundle) if scfg.bundle else default_bundle_path()
    sampler = None if ecfg.samples_in else load_sampler(bundle, scfg)
    from genms.progress import TextProgress, listening

    with listening(TextProgress(prefix="genms eval csp: ")):  # compile and sampling progress, with an ETA
        result = run_csp_benchmark(ecfg, gts, sampler, command_line())
    meta = json.loads((bundle / "bundle.json").read_text()) if (bundle / "bundle.json").is_file() else {}
    result["checkpoint"] = {
        "bundle": str(bundle.resolve().relative_to(REPO_ROOT)) if bundle.resolve().is_relative_to(REPO_ROOT) else str(bundle),
        "params_sha256_16": bundle_checksum(bundle) if bundle.is_dir() else None,
        "training": meta.get("training", {}),
        "step": meta.get("provenance", {}).get("step"),
    }
    result["test_source"] = {"dataset": ecfg.dataset, "split": ecfg.split, "csv": ecfg.csv,
                             "fingerprint": test.meta.get("fingerprint")}
    path = write_result(repo_path(ecfg.output), result)
    keys = [k for k in result if k.startswith(("match_rate", "rmse", "n_test", "structures_per_second", "validity"))]
    _print_summary({k: result[k] for k in keys}, f"CSP {ecfg.label} -> {path}")
    return result


def _print_summary(values: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value")
    for k, v in values.items():
        table.add_row(k, "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)))
    Console().print(table)
