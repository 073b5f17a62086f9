"""Build genms/assets/uniqueness_formulae.txt.gz: every reduced formula of the data folder.

Reads every split file of MP-20, mp_cgcnn, MPTS-52, WBM, Perov-5 and Carbon-24 that the data folder
holds, takes each row's formula from its CIF (``_chemical_formula_sum``) and writes the sorted
reduced formulae, one a line, under a ``#`` header naming the files, their row counts and what
the reference lacks.

    python scripts/build_uniqueness_reference.py [--data-dir ../shared/data] [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import logging

from genms.crystal.composition import FormulaError, reduced_formula
from genms.data.sources import (
    FORMATS,
    DataSourceError,
    data_roots,
    get_spec,
    locate,
    read_csv_table,
)
from genms.evaluate.uniqueness import INDEPENDENT_PATH, INDEPENDENT_SOURCES, _formula_from_cif

MISSING = (
    "missing: ICSD (not available here); Materials Project entries outside these datasets; "
    "split files the data folder lacks (listed below as absent)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="auto")
    parser.add_argument("--out", default=str(INDEPENDENT_PATH))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    roots = data_roots(args.data_dir)
    formulae: set[str] = set()
    header = ["genms uniqueness reference v1: reduced formulae of every data-folder source",
              MISSING]
    for dataset in INDEPENDENT_SOURCES:
        spec = get_spec(dataset)
        try:
            folder, files = locate(spec, roots)
        except DataSourceError as exc:
            header.append(f"{dataset}: absent ({exc})")
            continue
        if folder.name.endswith("_partial"):
            header.append(f"{dataset}: partial copy in {folder.name}/ (not every row)")
        for split in spec.split_names:
            if split not in files:
                header.append(f"{dataset} {split}: absent")
        for path in dict.fromkeys(files.values()):
            table = read_csv_table(path, FORMATS[spec.format], dataset)
            n = 0
            for cif in table.cifs:
                try:
                    formulae.add(reduced_formula(_formula_from_cif(cif)))
                    n += 1
                except FormulaError:
                    continue
            header.append(f"{dataset}: {folder.name}/{path.name}, {n} rows")
            logging.info("%s %s: %d rows", dataset, path.name, n)
    header.append(f"{len(formulae)} reduced formulae")
    with gzip.GzipFile(args.out, "wb", mtime=0) as fh:
        fh.write(("".join(f"# {h}\n" for h in header)
                  + "".join(f"{f}\n" for f in sorted(formulae))).encode())
    logging.info("wrote %s: %d formulae", args.out, len(formulae))


if __name__ == "__main__":
    main()
