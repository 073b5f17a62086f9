"""Throughput of the CPU-heavy metrics on real MP-20 structures (``python -m
genms.benchmarks.throughput``).

Measures, on a process pool of ``--workers`` processes:

* validity (construction, minimum distance, SMACT) of ``--n-validity`` MP-20 crystals;
* ``StructureMatcher.get_rms_dist`` on ``--n-pairs`` (prediction, ground truth) pairs: half are
  the ground truth with 0.1 Å Gaussian noise, a random site order and a rigid shift (mostly
  matches), half keep the composition and lattice with random fractional coordinates (mostly
  non-matches, the slower case). The validity gate is bypassed so every pair is compared.

Structures come from ``<data_dir>/mp_20_partial/{test,val}.csv`` (the committed 40-row fixture,
repeated, when the shared data is absent). Results print as JSON and go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genms.crystal.convert import from_cif
from genms.crystal.structure import Crystal
from genms.evaluate.matching import MatchConfig, match_one_sample
from genms.evaluate.validity import check_many, validity_fractions
from genms.io import atomic_write_json
from genms.paths import REPO_ROOT, resolve_data_dir

log = logging.getLogger(__name__)


def load_mp20(n: int) -> tuple[list[Crystal], str]:
    """The first ``n`` MP-20 crystals (test split, then val); fixture rows when data is absent."""
    folder = resolve_data_dir("auto") / "mp_20_partial"
    sources = [folder / "test.csv", folder / "val.csv"]
    frames, used = [], []
    for src in sources:
        if src.is_file() and sum(len(f) for f in frames) < n:
            frames.append(pd.read_csv(src, usecols=["cif"]))
            used.append(str(src))
    if not frames:
        fixture = REPO_ROOT / "tests" / "fixtures" / "mp20_test_sample.csv"
        frames, used = [pd.read_csv(fixture, usecols=["cif"])], [f"{fixture} (repeated)"]
    cifs = pd.concat(frames)["cif"].tolist()
    cifs = (cifs * (n // len(cifs) + 1))[:n]
    return [from_cif(t) for t in cifs], ", ".join(used)


def make_pairs(gts: list[Crystal], seed: int = 0) -> list[Crystal]:
    rng = np.random.default_rng(seed)
    preds = []
    for i, gt in enumerate(gts):
        if i % 2 == 0:
            cart = gt.cart_coords + rng.normal(0.0, 0.1, size=(gt.n_atoms, 3))
            frac = cart @ np.linalg.inv(gt.lattice) + rng.random(3)
            order = rng.permutation(gt.n_atoms)
            preds.append(Crystal(frac[order], gt.atomic_numbers[order], gt.lattice))
        else:
            preds.append(Crystal(rng.random((gt.n_atoms, 3)), gt.atomic_numbers, gt.lattice))
    return preds


def run(n_validity: int, n_pairs: int, workers: int, timeout_s: float, seed: int = 0) -> dict:
    crystals, source = load_mp20(max(n_validity, n_pairs))
    out: dict = {
        "source": source, "workers": workers, "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    if n_validity:
        t0 = time.perf_counter()
        results = check_many(crystals[:n_validity], n_workers=workers, desc="validity")
        dt = time.perf_counter() - t0
        out["validity"] = {
            "n": n_validity, "seconds": round(dt, 2), "per_second": round(n_validity / dt, 1),
            **{k: round(v, 4) for k, v in validity_fractions(results).items()},
        }
    if n_pairs:
        gts = crystals[:n_pairs]
        preds = make_pairs(gts, seed)
        t0 = time.perf_counter()
        m = match_one_sample(preds, gts, MatchConfig(timeout_s=timeout_s), n_workers=workers,
                             pred_valid=[True] * n_pairs, gt_valid=[True] * n_pairs)
        dt = time.perf_counter() - t0
        noisy = [it.matched for it in m.items[0::2]]
        random_ = [it.matched for it in m.items[1::2]]
        out["matching"] = {
            "n_pairs": n_pairs, "seconds": round(dt, 2), "pairs_per_second": round(n_pairs / dt, 1),
            "timeout_s": timeout_s, "n_timeouts": m.n_timeouts, "n_errors": m.n_errors,
            "match_rate_noisy_copies": round(float(np.mean(noisy)), 4) if noisy else None,
            "match_rate_random_coords": round(float(np.mean(random_)), 4) if random_ else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-validity", type=int, default=2000)
    parser.add_argument("--n-pairs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here as well")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args.n_validity, args.n_pairs, args.workers, args.timeout_s, args.seed)
    if args.out:
        atomic_write_json(args.out, result, indent=1)
    print(json.dumps(result, indent=1))  # noqa: T201 (the command's output)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
