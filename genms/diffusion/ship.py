"""Make a trained run's bundle the shipped denoiser.

A training run exports its EMA parameters with the training defaults of the sampler (e.g. Euler,
100 steps, no anti-annealing). Shipping copies the bundle into the package and sets the
sampler defaults to one of the variants that the run measured on validation
(``training.val_match["variant@NAME"]``), or that `genms eval csp` measured on validation
cells of this very bundle (``--val-eval RESULT.json``; the variant is named from its sampler
settings, e.g. ``heun25_anneal10``), so `genms sample`, `genms generate` and `genms eval csp`
use it without options. The training record keeps the run's own record and
adds the history of the bundles it replaces (steps, samples seen, GPU minutes, validation match
rate), so a model trained over several device allocations keeps its whole budget in one place.

    python -m genms.diffusion.ship RUN_BUNDLE genms/assets/models/denoiser \\
        --variant heun50_anneal10 --loop-minutes 7.3 7.1 7.4 --reason "..." \\
        [--val-eval VAL_RESULT.json ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from genms.io import atomic_path, atomic_write_text
from genms.train.bundle import META_FILE, params_checksum, read_meta

#: The sampler defaults of ``bundle.json["diffusion"]`` that a validation variant sets.
SAMPLER_KEYS = {"steps": "sampling_steps", "integrator": "integrator",
                "anneal_coords": "anneal_coords", "anneal_cap": "anneal_cap",
                "churn": "churn", "churn_until": "churn_until"}


def history_entry(training: dict) -> dict:
    """The compact summary of a shipped bundle's training record kept in its successor's."""
    vm = training.get("val_match") or {}
    return {
        "steps": training.get("steps"),
        "samples_seen": training.get("samples_seen"),
        "gpu_minutes_training_loop": training.get("gpu_minutes_training_loop"),
        "val_cells": vm.get("val_cells"),
        "val_match_rate_k1": vm.get("match_rate_k1"),
        "sampler_choice": training.get("sampler_choice"),
        "command": training.get("command"),
    }


def variant_name(settings: dict) -> str:
    """The validation variant name of resolved sampler settings (``heun25_anneal10``, ``euler100``,
    ``heun50_anneal10_uncapped``), as the training job's ``val_match.variants`` name them."""
    if settings.get("process", "flow") != "flow":
        return f"{settings['process']}{settings['steps']}"
    name = f"{settings['integrator']}{settings['steps']}"
    if settings.get("anneal_coords"):
        name += f"_anneal{settings['anneal_coords']:g}"
        if not settings.get("anneal_cap", True):
            name += "_uncapped"
    if settings.get("churn"):
        name += f"_churn{settings['churn']:g}_until{settings.get('churn_until', 0.7):g}"
    return name


def eval_variants(paths: list[str | Path], src: Path) -> dict[str, dict]:
    """Variants measured by `genms eval csp` results on validation cells of the bundle in ``src``.

    Refuses a result on any other split (the sampler is chosen on validation only), of other
    parameters, or without the resolved sampler settings."""
    checksum = params_checksum(src)
    out: dict[str, dict] = {}
    for path in paths:
        r = json.loads(Path(path).read_text())
        if r.get("split") != "val":
            raise ValueError(f"{path} is a result on the {r.get('split')!r} split; the sampler is "
                             "chosen on validation only (genms eval csp eval.split=val ...)")
        got = (r.get("checkpoint") or {}).get("params_sha256_16")
        if got != checksum:
            raise ValueError(f"{path} evaluated other parameters ({got}) than {src} ({checksum})")
        settings = r.get("sampler")
        if not settings:
            raise ValueError(f"{path} does not record its sampler settings; run genms eval csp "
                             "again with this version")
        out[variant_name(settings)] = {
            **{k: r.get(k) for k in ("match_rate_k1", "match_rate_k1_ci", "rmse_k1", "validity",
                                     "command", "hardware", "date")},
            "val_cells": r.get("n_test"), "csv": (r.get("test_source") or {}).get("csv"),
            **settings,
        }
    return out


def ship(src: str | Path, dest: str | Path, variant: str, loop_minutes: list[float],
         reason: str, val_evals: list[str | Path] = ()) -> dict:
    """Copy the bundle in ``src`` to ``dest`` with the sampler defaults of ``variant``.

    ``loop_minutes``: the training-loop minutes of each chunk behind ``src`` since the bundle in
    ``dest`` (added to its cumulative GPU minutes). ``val_evals``: `genms eval csp` results on
    validation cells of ``src`` (kept in the record as ``val_eval``; a variant may come from
    them). Returns the new training record.
    """
    src, dest = Path(src), Path(dest)
    meta = read_meta(src)
    training = dict(meta.get("training") or {})
    evals = eval_variants(list(val_evals), src)
    chosen = (training.get("val_match") or {}).get(f"variant@{variant}") or evals.get(variant)
    if chosen is None:
        measured = sorted({k.split("@", 1)[1] for k in training.get("val_match") or {}
                           if k.startswith("variant@")} | set(evals))
        raise ValueError(f"{src} has no validation measurement of variant {variant!r}; "
                         f"measured: {', '.join(measured) or 'none'}")
    old = read_meta(dest).get("training", {}) if (dest / META_FILE).is_file() else {}
    history = list(old.get("history") or [])
    if old:
        history.append(history_entry({k: v for k, v in old.items() if k != "history"}))
    meta["diffusion"] = {**meta["diffusion"],
                         **{SAMPLER_KEYS[k]: chosen[k] for k in SAMPLER_KEYS if k in chosen}}
    training.update({
        "sampler_choice": f"{chosen['integrator']}, {chosen['steps']} steps, coordinate "
                          f"anti-annealing s = {chosen['anneal_coords']:g}"
                          f"{' (capped)' if chosen.get('anneal_cap') else ''}: {reason}",
        "gpu_minutes_training_loop": round(
            float(old.get("gpu_minutes_training_loop") or 0) + sum(loop_minutes), 1),
        "chunks_loop_minutes": list(loop_minutes),
        "history": history,
    })
    if evals:
        training["val_eval"] = evals
    meta["training"] = training
    dest.mkdir(parents=True, exist_ok=True)
    params = sorted(src.glob("params.msgpack*"))
    for stale in dest.glob("params.msgpack*"):
        if stale.name not in {p.name for p in params}:
            stale.unlink()
    for p in params:
        with atomic_path(dest / p.name) as tmp:
            shutil.copyfile(p, tmp)
    atomic_write_text(dest / META_FILE, json.dumps(meta, indent=2, default=float))
    return training


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m genms.diffusion.ship", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="the run's exported bundle (e.g. RUN/bundle)")
    ap.add_argument("dest", help="the shipped bundle folder (genms/assets/models/denoiser)")
    ap.add_argument("--variant", required=True, help="a val_match variant the run measured")
    ap.add_argument("--loop-minutes", type=float, nargs="+", required=True,
                    help="training-loop minutes of each chunk since the bundle in dest")
    ap.add_argument("--reason", required=True, help="why this variant (one sentence)")
    ap.add_argument("--val-eval", nargs="+", default=[], metavar="RESULT_JSON",
                    help="genms eval csp results on validation cells of this bundle")
    a = ap.parse_args(argv)
    try:
        t = ship(a.src, a.dest, a.variant, a.loop_minutes, a.reason, a.val_eval)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"ship: {exc}") from None
    sys.stdout.write(f"{a.dest}: {t.get('steps')} steps, {t.get('samples_seen')} samples, "
                     f"{t['gpu_minutes_training_loop']} GPU-min; {t['sampler_choice']}\n")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
