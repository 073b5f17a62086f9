"""Build the known-compound table shipped in the package (genms/assets/known_formulae.tsv.gz).

Reads the dataset CSVs (mp_20, mp_cgcnn, mpts_52, perov_5) from the data folder, takes each
row's reduced formula from its CIF and its space group from the ``spacegroup.number`` column or,
where there is none, from spglib (symprec 0.1) on the parsed structure. Takes several minutes.

    python scripts/build_known_formulae.py [--data-dir ../shared/data] [--out PATH]
"""

from __future__ import annotations

import argparse
import logging

from genms.data.known import SHIPPED_PATH, from_sources

DATASETS = ("mp_20", "mp_cgcnn", "mpts_52", "perov_5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="auto")
    parser.add_argument("--out", default=str(SHIPPED_PATH))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = from_sources(DATASETS, args.data_dir, compute_spacegroups=True, progress=True)
    path = table.save(args.out)
    n_formulae = len(table.by_formula)
    n_sg = sum(1 for r in table.rows if r.spacegroup)
    logging.info(
        "wrote %s: %d rows, %d formulae, %d with a space group", path, len(table), n_formulae, n_sg
    )


if __name__ == "__main__":
    main()
