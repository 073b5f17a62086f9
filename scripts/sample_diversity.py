"""How many distinct structures π_lo gives for one composition, and how many of them match.

Picks the first ``--items`` distinct compositions with one formula unit per cell from a seeded
permutation of a prepared split, samples ``--n`` structures of each with ``genms sample``
(the shipped sampler unless overrides are given), then groups each composition's samples with
StructureMatcher at the benchmark's tolerances (stol 0.5, ltol 0.3, angle 10) and at tight ones
(0.1, 0.05, 2), and counts the samples that match the split's own structure.

    python scripts/sample_diversity.py OUT.json --cache-dir prepared [--items 40 --n 8] \
        [-- sampler.steps=50]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, Element, Structure

from genms.crystal.convert import to_pymatgen
from genms.data.prepare import load_prepared
from genms.evaluate.matching import structure_matcher

BENCHMARK = structure_matcher()  # the CSP benchmark's tolerances
TIGHT = structure_matcher(stol=0.1, ltol=0.05, angle_tol=2)


def pick(crystals, items: int, seed: int) -> list[tuple[int, str]]:
    chosen: dict[str, int] = {}
    for i in np.random.default_rng(seed).permutation(len(crystals)):
        symbols = (Element.from_Z(int(z)).symbol for z in crystals[i].atomic_numbers)
        comp = Composition(collections.Counter(symbols))
        if comp.num_atoms == comp.reduced_composition.num_atoms:
            chosen.setdefault(comp.reduced_formula, int(i))
        if len(chosen) == items:
            break
    return [(i, f) for f, i in chosen.items()]


def read(paths) -> list[Structure]:
    out = []
    for p in paths:
        try:
            out.append(Structure.from_file(p))
        except ValueError:  # a CIF whose atoms overlap parses to nothing
            pass
    return out


def distinct(samples: list[Structure], matcher) -> int:
    return len(matcher.group_structures(samples)) if samples else 0


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output")
    ap.add_argument("--cache-dir", default="prepared")
    ap.add_argument("--dataset", default="mp_union")
    ap.add_argument("--split", default="val")
    ap.add_argument("--items", type=int, default=40, choices=range(1, 1001), metavar="1..1000")
    ap.add_argument("--n", type=int, default=8, choices=range(2, 65), metavar="2..64")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = load_prepared(args.dataset, args.split, cache_dir=args.cache_dir)
    crystals = data.crystals()
    chosen = pick(crystals, args.items, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["genms", "sample", *[f for _, f in chosen], f"n={args.n}", "formula_units=1",
               f"seed={args.seed}", f"out_dir={tmp}", *extra]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows = []
        for i, formula in chosen:
            samples = read(sorted(Path(tmp).glob(f"{formula}_*.cif")))
            truth = to_pymatgen(crystals[i])
            rows.append({
                "formula": formula,
                "samples_read": len(samples),
                "distinct_benchmark_tol": distinct(samples, BENCHMARK),
                "distinct_tight": distinct(samples, TIGHT),
                "matching_ground_truth": sum(
                    bool(BENCHMARK.fit(s, truth)) for s in samples
                ),
            })
    groups = np.array([r["distinct_benchmark_tol"] for r in rows])
    hits = np.array([r["matching_ground_truth"] for r in rows])
    full = np.array([r["samples_read"] for r in rows])
    summary = {
        "items": len(rows),
        "samples_per_item": args.n,
        "mean_distinct_benchmark_tol": float(groups.mean()),
        "mean_distinct_tight": float(np.mean([r["distinct_tight"] for r in rows])),
        "items_with_one_distinct": int((groups == 1).sum()),
        "items_with_a_match": int((hits > 0).sum()),
        "items_all_samples_match": int(((hits == full) & (full > 0)).sum()),
        "items_some_not_all_match": int(((hits > 0) & (hits < full)).sum()),
    }
    doc = {"command": "python scripts/sample_diversity.py " + " ".join(sys.argv[1:]),
           "sample_command": "genms sample <formulae> "
           + " ".join(cmd[-(4 + len(extra)):]).replace(tmp, "DIR"),
           "date": date.today().isoformat(), "dataset": args.dataset, "split": args.split,
           "summary": summary, "rows": rows}
    Path(args.output).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
