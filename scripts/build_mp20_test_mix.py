"""Write the full MP-20 test split's arity mix (genms/assets/mp20_test_arity_mix.json).

The CSP benchmark re-weights its per-arity match rates on the MP-20 test subset to this mix.
Counts of 2- and 3-element rows are exact (the subset's ``mp_20_biternary`` rows are every such
row of the full 9,046-row split); the remaining rows are split over 1, 4 and 5+ elements in the
proportions seen in the subset's unbiased samples (``mp_20_pilot``: the first 1,000 upstream
rows; Diffhedron ``test_small.csv``: 600 random rows). See :mod:`genms.benchmarks.arity_mix`.
A row's arity is the length of its ``elements`` column (equal to its CIF's in every row).
Takes a few seconds.

    python scripts/build_mp20_test_mix.py [--data-dir auto] [--out PATH]
"""

from __future__ import annotations

import argparse
import ast
import logging

import pandas as pd

from genms.benchmarks.arity_mix import SHIPPED_PATH, arity_label, derive_mix
from genms.data.sources import file_sha256
from genms.io import atomic_write_json
from genms.paths import resolve_data_dir

SUBSET = ("mp_20_partial", "test.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="auto", help="the data folder (auto: ../shared/data)")
    parser.add_argument("--out", default=str(SHIPPED_PATH))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = resolve_data_dir(args.data_dir).joinpath(*SUBSET)
    table = pd.read_csv(path, usecols=["material_id", "elements", "source"])
    arities = [arity_label(len(set(ast.literal_eval(e)))) for e in table["elements"]]
    mix = derive_mix(arities, table["source"].astype(str).tolist())
    mix["source"] = {"file": "/".join(SUBSET), "sha256": file_sha256(path)}
    mix["script"] = "scripts/build_mp20_test_mix.py"
    out = atomic_write_json(args.out, mix)
    logging.info("wrote %s: counts %s, shares %s", out, mix["counts"], mix["shares"])


if __name__ == "__main__":
    main()
