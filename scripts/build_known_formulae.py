"""Build the known-compound table shipped in the package (genms/assets/known_formulae.tsv.gz).

Reads every dataset CSV of the data folder (mp_20 in all splits, mp_cgcnn, mpts_52, wbm, perov_5,
carbon_24), takes each row's reduced formula from its CIF and its space group from the
``spacegroup.number`` column or, where there is none, from spglib (symprec 0.1) on the parsed
structure. The table is the reference of the novelty check ("not in the N reference formulae
from ...") on a machine without the data folder. Takes several minutes.

    python scripts/build_known_formulae.py [--data-dir ../shared/data] [--out PATH]
"""

from __future__ import annotations

import argparse
import logging

from genms.data.known import ALL_DATASETS, SHIPPED_PATH, from_sources

DATASETS = ALL_DATASETS


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
