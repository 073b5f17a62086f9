"""The crystal-structure-prediction benchmark (CDVAE/DiffCSP protocol) for π_lo: ``genms eval csp``.

For each test crystal the sampler gets its exact atom list (composition and Z, as in DiffCSP)
and draws ``k_max`` candidates in one batched call. Then, on a process pool:

* every candidate's validity (``genms.evaluate.validity``: structure + SMACT composition);
* **k = 1** uses candidate 0 only and DiffCSP's ``RecEval`` rule: compared with
  ``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)`` only when both it and the ground truth
  are valid;
* **k = k_max** uses all candidates and ``RecEvalBatch``: the minimum normalised RMS over
  valid, matching candidates.

Matching is the slow part (~50 ms per pair on one core). ``match_budget_s`` bounds it: the
k = 1 pairs of every item go first, then whole items for k = k_max in a seeded random order;
items not finished in time are left out of the k_max numbers (``n_test_k{k}`` says how many
were scored). The samples and per-item results can be saved and the run finished later
(``samples_in`` / ``results_in``).

Beside the headline numbers, the same rates are given per cell size (``by_size``) and per number
of distinct elements (``by_arity``: 1, 2, 3, 4, 5+). On the MP-20 test split (dataset
``mp_union`` or ``mp_20``, split ``test``, or the subset's CSV itself; :func:`is_mp20_test`) two
more blocks are added:

* ``reweighted_full_mix``: the per-arity rates re-weighted to the full 9,046-row split's arity
  mix (the subset here over-represents 2- and 3-element compounds;
  :mod:`genms.benchmarks.arity_mix`);
* ``excluding_near_duplicates``: the rates without the test entries that the Materials Project
  data here holds under another id (:mod:`genms.data.near_duplicates`).

Training uses the same code at k = 1 on validation cells (``val_match`` of ``genms train
diffusion``, :func:`genms.diffusion.commands.validation_match`).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
from omegaconf import DictConfig
from rich.table import Table

from genms.benchmarks.arity_mix import (
    arity,
    load_shares,
    reweighted_to_full_mix,
    subset_sha256,
)
from genms.configs import ranged, to_dataclass
from genms.console import make_console, typed_command
from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.data.near_duplicates import load_near_duplicate_ids
from genms.data.sources import file_sha256
from genms.diffusion.config import SamplerConfig
from genms.diffusion.data import load_split
from genms.diffusion.sampler import DiffusionSampler, default_bundle_path, load_sampler
from genms.evaluate.intervals import wilson
from genms.evaluate.matching import MatchConfig, match_pair
from genms.evaluate.validity import check_validity
from genms.io import atomic_write_text
from genms.paths import REPO_ROOT, repo_path
from genms.progress import TextProgress, listening
from genms.train.bundle import META_FILE, params_checksum, read_meta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CSPEvalConfig:
    dataset: str = "mp_union"
    split: str = "test"
    csv: str | None = None  # a CDVAE CSV instead of prepared arrays
    label: str = "mp20"
    limit: int | None = ranged(None, 1, 10**9)  # first n test crystals
    k: list[int] = ranged([1, 20], 1, 1000)
    seed: int = ranged(0, 0, 2**32 - 1)
    workers: int | None = ranged(None, 1, 1024)  # matching processes (None = all cores but one)
    match_timeout_s: float = ranged(60.0, 0, 86_400)  # per StructureMatcher comparison
    # wall-time bound on matching (None = no bound)
    match_budget_s: float | None = ranged(None, 0, 10**7, lo_open=True)
    # bound on the whole run: matching gets what is left
    wall_budget_s: float | None = ranged(None, 0, 10**7, lo_open=True)
    output: str = "benchmarks/results/csp_mp20.json"
    samples_out: str | None = None  # save every candidate (CrystalArrays .npz)
    samples_in: str | None = None  # reuse saved candidates instead of sampling
    results_out: str | None = None  # per-item results (JSON lines)
    results_in: str | None = None  # per-item results of an earlier run: only the rest is matched
    sampler: SamplerConfig = field(default_factory=SamplerConfig)


# -- matching workers (module level: pickled by reference) ---------------------------------------
def _match_item(args: tuple) -> dict:
    """One test item: validity of its candidates and the gt, RMS of each valid candidate."""
    index, gt, candidates, first, timeout = args
    cfg = MatchConfig(timeout_s=timeout)
    gt_valid = check_validity(gt).valid
    valid, rms = [], []
    for cand in candidates:
        ok = check_validity(cand).valid
        valid.append(bool(ok))
        rms.append(match_pair(cand, gt, cfg).rms if ok else None)
    return {"index": index, "first": first, "gt_valid": bool(gt_valid), "valid": valid, "rms": rms}


def _pool(workers: int):
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["genms.evaluate.matching", "genms.evaluate.validity"])
    return ctx.Pool(workers)


def match_items(
    gts: list[Crystal],
    cands: list[list[Crystal]],
    todo_first: list[int],
    todo_rest: list[int],
    workers: int,
    timeout: float,
    budget_s: float | None,
) -> tuple[dict, dict, bool]:
    """(first-candidate results, rest-candidate results, finished) keyed by item index."""
    tasks = [(i, gts[i], cands[i][:1], True, timeout) for i in todo_first]
    tasks += [(i, gts[i], cands[i][1:], False, timeout) for i in todo_rest if len(cands[i]) > 1]
    first, rest = {}, {}
    deadline = None if budget_s is None else time.time() + budget_s
    finished = True
    if workers <= 1:
        for t in tasks:
            if deadline is not None and time.time() > deadline:
                finished = False
                break
            r = _match_item(t)
            (first if r["first"] else rest)[r["index"]] = r
        return first, rest, finished
    pool = _pool(workers)
    try:
        it = pool.imap_unordered(_match_item, tasks)  # chunksize 1: supports next(timeout)
        for _ in range(len(tasks)):
            try:
                left = None if deadline is None else max(deadline - time.time(), 0.01)
                r = it.next(timeout=left)
            except mp.TimeoutError:
                finished = False
                break
            (first if r["first"] else rest)[r["index"]] = r
    finally:
        pool.terminate()
        pool.join()
    return first, rest, finished


# -- metrics ---------------------------------------------------------------------------------------
SIZE_BINS = ((1, 20), (21, 32), (33, 52), (53, None))  # atoms per cell: MP-20, then MPTS-52's range
#: Prepared datasets whose ``test`` split is the MP-20 test subset.
MP20_TEST_DATASETS = ("mp_union", "mp_20")


def _rates(items: list[int], first: dict, rest: dict, k_max: int) -> dict:
    """Match rates (with Wilson 95 % intervals), RMSEs and validity over ``items``."""
    out: dict = {}
    scored1 = [i for i in items if i in first]
    rms1 = [
        first[i]["rms"][0]
        for i in scored1
        if first[i]["gt_valid"] and first[i]["rms"][0] is not None
    ]
    out["n_test_k1"] = len(scored1)
    out["match_rate_k1"] = len(rms1) / max(len(scored1), 1)
    out["match_rate_k1_ci"] = wilson(len(rms1), len(scored1))
    out["rmse_k1"] = float(np.mean(rms1)) if rms1 else None
    if k_max > 1:
        scored = [i for i in scored1 if i in rest]
        best = []
        for i in scored:
            found = [r for r in first[i]["rms"] + rest[i]["rms"] if r is not None]
            if found:
                best.append(min(found))
        out[f"n_test_k{k_max}"] = len(scored)
        out[f"match_rate_k{k_max}"] = len(best) / max(len(scored), 1)
        out[f"match_rate_k{k_max}_ci"] = wilson(len(best), len(scored))
        out[f"rmse_k{k_max}"] = float(np.mean(best)) if best else None
        valid = [v for i in scored for v in first[i]["valid"] + rest[i]["valid"]]
    else:
        valid = [v for i in scored1 for v in first[i]["valid"]]
    out["validity"] = float(np.mean(valid)) if valid else None
    out["gt_validity"] = (
        float(np.mean([first[i]["gt_valid"] for i in scored1])) if scored1 else None
    )
    return out


def _by_group(groups: dict[str, list[int]], first: dict, rest: dict, k_max: int) -> dict:
    """:func:`_rates` (and ``n``) per non-empty group of items, in the order of ``groups``."""
    return {label: {"n": len(items), **_rates(items, first, rest, k_max)}
            for label, items in groups.items() if items}


def summarise(
    n_items: int,
    first: dict,
    rest: dict,
    k_max: int,
    sizes: list[int] | None = None,
    arities: list[str] | None = None,
) -> dict:
    """DiffCSP match rates / RMSEs from per-item results.

    With ``sizes`` (atoms per test cell) the same numbers are also given per size bin
    (``by_size["21-32"]`` ...), so that large cells are not hidden in an average over small ones;
    with ``arities`` (each cell's :func:`~genms.benchmarks.arity_mix.arity`) per number of
    distinct elements (``by_arity["1"]`` ... ``by_arity["5+"]``). Empty bins are left out.
    """
    out = _rates(list(range(n_items)), first, rest, k_max)
    if sizes is not None:
        size_bins = {
            f"{lo}-{hi}" if hi else f"{lo}+": [
                i for i in range(n_items) if sizes[i] >= lo and (hi is None or sizes[i] <= hi)
            ]
            for lo, hi in SIZE_BINS
        }
        out["by_size"] = _by_group(size_bins, first, rest, k_max)
    if arities is not None:
        groups: dict[str, list[int]] = {}
        for i in range(n_items):
            groups.setdefault(arities[i], []).append(i)
        out["by_arity"] = _by_group(dict(sorted(groups.items())), first, rest, k_max)
    return out


def excluding_near_duplicates(
    ids: list[str], excluded: set[str], first: dict, rest: dict, k_max: int
) -> dict:
    """:func:`_rates` over the items whose id is not in ``excluded``, with how many were left
    out (``n_excluded``) and kept (``n_items``)."""
    keep = [i for i, item_id in enumerate(ids) if item_id not in excluded]
    return {"n_items": len(keep), "n_excluded": len(ids) - len(keep),
            **_rates(keep, first, rest, k_max)}


def is_mp20_test(cfg: CSPEvalConfig) -> bool:
    """Whether ``cfg`` evaluates the MP-20 test split: the prepared ``test`` split of
    ``mp_union`` or ``mp_20``, or a CSV byte-identical to the MP-20 test subset that the shipped
    arity mix was derived from (``mp_20_partial/test.csv``; the label is not looked at)."""
    if cfg.csv:
        path = repo_path(cfg.csv)
        return path.is_file() and file_sha256(path) == subset_sha256()
    return cfg.dataset in MP20_TEST_DATASETS and cfg.split == "test"


def mp20_test_report(
    by_arity: dict,
    ids: list[str] | None,
    first: dict,
    rest: dict,
    k_max: int,
    shares: dict[str, float] | None = None,
    near_duplicates: set[str] | None = None,
) -> dict:
    """The MP-20-test blocks: ``reweighted_full_mix`` and, when the items' material ids are
    known, ``excluding_near_duplicates``.

    ``shares`` / ``near_duplicates`` default to the shipped arity mix and near-duplicate list.
    """
    shares = load_shares() if shares is None else shares
    out = {"reweighted_full_mix": reweighted_to_full_mix(by_arity, sorted({1, k_max}), shares)}
    if ids is not None:
        excluded = load_near_duplicate_ids() if near_duplicates is None else near_duplicates
        out["excluding_near_duplicates"] = excluding_near_duplicates(
            ids, excluded, first, rest, k_max)
    return out


# -- samples on disk -------------------------------------------------------------------------------
def save_samples(path: str | Path, cands: list[list[Crystal]]) -> None:
    flat = [c for group in cands for c in group]
    ids = [f"{i}:{j}" for i, group in enumerate(cands) for j in range(len(group))]
    CrystalArrays.from_crystals(flat, ids, meta={"kind": "csp_samples"}).save(path)


def load_samples(path: str | Path, n_items: int) -> list[list[Crystal]]:
    arrays = CrystalArrays.load(path)
    out: list[list[Crystal]] = [[] for _ in range(n_items)]
    for k, key in enumerate(arrays.ids):
        i, _ = (int(v) for v in str(key).split(":"))
        if i < n_items:
            out[i].append(arrays.crystal(k))
    return out


def _read_results(path: str | Path) -> tuple[dict, dict]:
    first, rest = {}, {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            (first if r["first"] else rest)[int(r["index"])] = r
    return first, rest


def _write_results(path: str | Path, first: dict, rest: dict) -> None:
    lines = [json.dumps(r) + "\n" for r in list(first.values()) + list(rest.values())]
    atomic_write_text(path, "".join(lines))


def hardware() -> str:
    dev = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    return (f"{dev.platform}:{getattr(dev, 'device_kind', '')} x{jax.device_count()}; "
            f"{os.cpu_count()} CPU cores ({cpu})")


# -- the benchmark ---------------------------------------------------------------------------------
def run_csp_benchmark(
    cfg: CSPEvalConfig,
    gts: list[Crystal],
    sampler: DiffusionSampler | None = None,
    command: str = "",
    ids: list[str] | None = None,
) -> dict:
    """Sample (or load) candidates for ``gts``, match them, return the JSON-able result.

    ``ids``: the test items' material ids, used on the MP-20 test split to leave out the
    near-duplicate entries (``excluding_near_duplicates``; without ids that block is omitted).
    """
    t_start = time.time()
    k_max = max(cfg.k)
    if min(cfg.k) != 1 or len(cfg.k) > 2:
        raise ValueError(f"eval_csp.k must be [1] or [1, K]; got {cfg.k}")
    n = len(gts)
    result: dict = {
        "dataset": cfg.label,
        "split": cfg.split,
        "n_test": n,
        "k": list(cfg.k),
        "command": command,
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if cfg.samples_in:
        cands = load_samples(cfg.samples_in, n)
        result["samples_from"] = cfg.samples_in
    else:
        cells = [g.atomic_numbers for g in gts for _ in range(k_max)]
        t0 = time.time()
        sampler.warmup([len(c) for c in cells])
        compile_s = time.time() - t0
        key = jax.random.key(cfg.seed)
        t0 = time.time()
        flat = sampler.sample_cells(cells, key)
        sample_s = time.time() - t0
        cands = [flat[i * k_max : (i + 1) * k_max] for i in range(n)]
        flops = sampler.plan_flops([len(c) for c in cells])
        result.update(
            {
                "n_samples": len(cells),
                "sampling_steps": sampler.steps,
                "gamma": sampler.gamma,
                "sampler": sampler.settings(),
                "compile_seconds": compile_s,
                "sampling_seconds": sample_s,
                "structures_per_second": len(cells) / sample_s,
                "executed_flops": flops,
                "achieved_tflops": flops / sample_s / 1e12,
                "compute_dtype": str(np.dtype(sampler.model.dtype)),
            }
        )
        log.info(
            "sampled %d structures in %.1f s (%.0f /s, %.1f TFLOP/s executed)",
            len(cells),
            sample_s,
            len(cells) / sample_s,
            flops / sample_s / 1e12,
        )
        if cfg.samples_out:
            save_samples(cfg.samples_out, cands)
    first, rest = _read_results(cfg.results_in) if cfg.results_in else ({}, {})
    order = np.random.default_rng(cfg.seed).permutation(n).tolist()
    todo_first = [i for i in range(n) if i not in first]
    todo_rest = [i for i in order if i not in rest] if k_max > 1 else []
    workers = cfg.workers if cfg.workers is not None else max(1, (os.cpu_count() or 2) - 1)
    budget = cfg.match_budget_s
    if cfg.wall_budget_s is not None:
        left = cfg.wall_budget_s - (time.time() - t_start)
        budget = left if budget is None else min(budget, left)
        log.info("matching budget %.0f s", budget)
    t0 = time.time()
    new_first, new_rest, finished = match_items(
        gts, cands, todo_first, todo_rest, workers, cfg.match_timeout_s, budget
    )
    first.update(new_first)
    rest.update(new_rest)
    result["matching_seconds"] = time.time() - t0
    result["matching_workers"] = workers
    result["matching_finished"] = finished
    if cfg.results_out:
        _write_results(cfg.results_out, first, rest)
    result.update(summarise(n, first, rest, k_max, [len(g.atomic_numbers) for g in gts],
                            [arity(g.atomic_numbers) for g in gts]))
    if is_mp20_test(cfg):
        result.update(mp20_test_report(result["by_arity"], ids, first, rest, k_max))
    return result


def write_result(path: str | Path, result: dict) -> Path:
    """The result as indented JSON (values JSON cannot hold as text), written atomically."""
    return atomic_write_text(path, json.dumps(result, indent=2, default=_json_default))


def _json_default(value):
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def eval_csp(cfg: DictConfig) -> dict:
    """``genms eval csp``: match rate / RMSE at k = 1 and k = K; writes the JSON result."""
    ecfg = to_dataclass(CSPEvalConfig, cfg.eval)
    scfg = ecfg.sampler
    csv = str(repo_path(ecfg.csv)) if ecfg.csv else None
    test = load_split(ecfg.dataset, ecfg.split, cfg.paths.cache_dir, csv, ecfg.limit)
    gts = test.crystals()
    bundle = Path(scfg.bundle) if scfg.bundle else default_bundle_path()
    sampler = None if ecfg.samples_in else load_sampler(bundle, scfg)
    # compile and sampling progress, with an ETA
    with listening(TextProgress(prefix="genms eval csp: ")):
        result = run_csp_benchmark(ecfg, gts, sampler, typed_command(), [str(i) for i in test.ids])
    meta = read_meta(bundle) if (bundle / META_FILE).is_file() else {}
    where = bundle.resolve()
    result["checkpoint"] = {
        "bundle": str(where.relative_to(REPO_ROOT))
        if where.is_relative_to(REPO_ROOT)
        else str(bundle),
        "params_sha256_16": params_checksum(bundle) if bundle.is_dir() else None,
        "training": meta.get("training", {}),
        "step": meta.get("provenance", {}).get("step"),
    }
    result["samples_seen"] = meta.get("training", {}).get("samples_seen")
    result["test_source"] = {
        "dataset": ecfg.dataset,
        "split": ecfg.split,
        "csv": ecfg.csv,
        "fingerprint": test.meta.get("fingerprint"),
    }
    path = write_result(repo_path(ecfg.output), result)
    keys = [
        k
        for k in result
        if k.startswith(("match_rate", "rmse", "n_test", "structures_per_second", "validity"))
    ]
    _print_summary({k: result[k] for k in keys} | breakdown_lines(result),
                   f"CSP {ecfg.label} -> {path}")
    return result


def _rate_text(block: dict, k: int) -> str:
    rate, ci = block.get(f"match_rate_k{k}"), block.get(f"match_rate_k{k}_ci")
    if rate is None:
        return "-"
    return f"{rate:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def breakdown_lines(result: dict) -> dict[str, str]:
    """Short console lines of the per-arity, re-weighted and near-duplicate-free rates."""
    ks = sorted({1, max(result["k"])})
    lines = {}
    for k in ks:
        if "by_arity" in result:
            lines[f"match_rate_k{k} by elements (n)"] = "  ".join(
                f"{a}: {b[f'match_rate_k{k}']:.3f} ({b[f'n_test_k{k}']})"
                for a, b in result["by_arity"].items() if f"n_test_k{k}" in b)
        mix = result.get("reweighted_full_mix")
        if mix:
            missing = mix["missing_arities"][f"k{k}"]
            lines[f"match_rate_k{k}, full MP-20 test mix"] = _rate_text(mix, k) + (
                f" (no {', '.join(missing)}-element items)" if missing else "")
        dup = result.get("excluding_near_duplicates")
        if dup:
            lines[f"match_rate_k{k}, {dup['n_excluded']} near duplicates out"] = (
                f"{_rate_text(dup, k)} (n {dup[f'n_test_k{k}']})")
    return lines


def _print_summary(values: dict, title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value")
    for k, v in values.items():
        table.add_row(k, "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)))
    make_console().print(table)
