"""Write the near-duplicate MP-20 test ids (genms/assets/mp20_test_near_duplicates.json).

A test entry is a near duplicate when the MP training union's test rules (same reduced formula
and space group, or a StructureMatcher match; docs/data.md) hit it, i.e. when the Materials
Project data of the data folder holds the same crystal under another id. The ids come from the
union's prepared train split (``meta["union"]["near_duplicate_test_ids"]``): the union is
prepared (or found in ``--cache-dir``) as by ``genms data prepare mp_union``; a prepared file
from an older genms, without those ids, is rebuilt. With warm space-group and structure-match
caches (``data.parse_cache_dir``) this takes well under a minute; cold, several minutes.

The list depends on which test splits the union holds out (``--holdout``, as
``data.union_holdout``): holding out MPTS-52 test removes candidates, so fewer MP-20 test entries
have a near duplicate among the rest. The shipped list belongs to the union the shipped bundle
was trained on, built before MPTS-52 test was held out: ``--holdout mp_20_test``.

    python scripts/build_mp20_near_duplicates.py [--data-dir auto] [--cache-dir auto] [--out PATH]
        [--holdout mp_20_test [mpts_52_test]]
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace

from genms.data.build import prepare_dataset
from genms.data.config import UNION_HOLDOUTS, DataConfig
from genms.data.near_duplicates import (
    SHIPPED_PATH,
    NearDuplicatesError,
    near_duplicates_document,
    write_near_duplicates,
)
from genms.data.prepare import PrepareContext
from genms.data.sources import data_roots
from genms.paths import resolve_cache_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="auto", help="the data folder (auto: ../shared/data)")
    parser.add_argument("--cache-dir", default="auto", help="prepared arrays (paths.cache_dir)")
    parser.add_argument("--out", default=str(SHIPPED_PATH))
    parser.add_argument("--holdout", nargs="+", choices=UNION_HOLDOUTS,
                        default=list(UNION_HOLDOUTS),
                        help="the union's held-out test splits (data.union_holdout)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    roots, cache_dir = data_roots(args.data_dir), resolve_cache_dir(args.cache_dir)
    cfg = DataConfig(union_holdout=args.holdout)
    results = prepare_dataset("mp_union", PrepareContext.create(cfg, roots, cache_dir))
    try:
        document = near_duplicates_document(results)
    except NearDuplicatesError as exc:
        logging.info("%s: rebuilding", exc)
        ctx = PrepareContext.create(replace(cfg, force=True), roots, cache_dir)
        document = near_duplicates_document(prepare_dataset("mp_union", ctx))
    path = write_near_duplicates(document, args.out)
    logging.info("wrote %s: %d of %d test entries are near duplicates %s", path,
                 document["n_near_duplicates"], document["n_test"], document["counts"])


if __name__ == "__main__":
    main()
