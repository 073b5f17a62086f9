"""Make a trained run's bundle the shipped denoiser.

A training run exports its EMA parameters with the training defaults of the sampler (e.g. Euler,
100 steps, no anti-annealing). Shipping copies the bundle into the package and sets the
sampler defaults to one of the variants that the run measured on validation
(``training.val_match["variant@NAME"]``), so `genms sample`, `genms generate` and
`genms eval csp` use it without options. The training record keeps the run's own record and
adds the history of the bundles it replaces (steps, samples seen, GPU minutes, validation match
rate), so a model trained over several sessions keeps its whole budget in one place.

    python -m genms.diffusion.ship RUN_BUNDLE genms/assets/models/denoiser \\
        --variant heun50_anneal10 --loop-minutes 7.3 7.1 7.4 --reason "..."
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from genms.io import atomic_path, atomic_write_text
from genms.train.bundle import META_FILE, read_meta

#: The sampler defaults of ``bundle.json["diffusion"]`` that a validation variant sets.
SAMPLER_KEYS = {"steps": "sampling_steps", "integrator": "integrator",
                "anneal_coords": "anneal_coords", "anneal_cap": "anneal_cap"}


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


def ship(src: str | Path, dest: str | Path, variant: str, loop_minutes: list[float],
         reason: str) -> dict:
    """Copy the bundle in ``src`` to ``dest`` with the sampler defaults of ``variant``.

    ``loop_minutes``: the training-loop minutes of each chunk behind ``src`` since the bundle in
    ``dest`` (added to its cumulative GPU minutes). Returns the new training record.
    """
    src, dest = Path(src), Path(dest)
    meta = read_meta(src)
    training = dict(meta.get("training") or {})
    chosen = (training.get("val_match") or {}).get(f"variant@{variant}")
    if chosen is None:
        measured = sorted(k.split("@", 1)[1] for k in training.get("val_match") or {}
                          if k.startswith("variant@"))
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
    a = ap.parse_args(argv)
    try:
        t = ship(a.src, a.dest, a.variant, a.loop_minutes, a.reason)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"ship: {exc}") from None
    sys.stdout.write(f"{a.dest}: {t.get('steps')} steps, {t.get('samples_seen')} samples, "
                     f"{t['gpu_minutes_training_loop']} GPU-min; {t['sampler_choice']}\n")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
