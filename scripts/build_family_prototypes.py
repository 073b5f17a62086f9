"""Build genms/assets/family_prototypes.json.gz (rule: genms/evaluate/family_prototypes.py).

Candidates are the rows of the shipped known-compound table (mp_20, mp_cgcnn, mpts_52, perov_5,
with space groups) whose anonymous formula and space group are a prototype's; their CIFs are read
from the data folder and kept when ``fit_anonymous`` matches the ideal prototype.

    python scripts/build_family_prototypes.py [--data-dir ../shared/data] [--max-representatives 12]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
from collections import defaultdict

from pymatgen.core import Composition

from genms.benchmarks.families import _from_sources, distinct_prototypes
from genms.crystal.convert import to_cif, to_pymatgen
from genms.data.known import load_shipped
from genms.evaluate.family import anonymous_formula_key, reduce_for_matching
from genms.evaluate.family_prototypes import (
    FORMAT,
    SHIPPED_PATH,
    coordination_ok,
    ideal_prototypes,
)
from genms.evaluate.matching import PairTimeout, structure_matcher, time_limit

log = logging.getLogger("build_family_prototypes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="auto")
    parser.add_argument("--out", default=str(SHIPPED_PATH))
    parser.add_argument("--max-representatives", type=int, default=12)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    matcher = structure_matcher()
    ideals = ideal_prototypes()
    keys = {p.name: anonymous_formula_key(p.structure) for p in ideals}
    known = load_shipped()
    wanted: dict[str, dict[str, tuple[str, int, list]]] = defaultdict(dict)  # dataset -> id -> ...
    for row in known.rows:
        counts = [int(round(v)) for v in Composition(row.formula).values()]
        key = anonymous_formula_key_from_counts(counts)
        protos = [p for p in ideals if keys[p.name] == key and row.spacegroup in p.space_groups]
        if protos:
            wanted[row.dataset][row.material_id] = (row.formula, row.spacegroup, protos)
    families: dict[str, dict] = {
        f: {"prototypes": [{"name": p.name, "space_groups": list(p.space_groups),
                            "formula": p.structure.composition.reduced_formula,
                            "n_atoms": len(p.structure)} for p in ideals if p.family == f],
            "entries": [], "references": []}
        for f in dict.fromkeys(p.family for p in ideals)
    }
    by_proto: dict[str, list] = defaultdict(list)
    rejected: dict[str, list] = defaultdict(list)
    for dataset, ids in sorted(wanted.items()):
        found = _from_sources(dataset, set(ids), args.data_dir)
        log.info("%s: %d candidates, %d read", dataset, len(ids), len(found))
        for mid in sorted(found):
            formula, sg, protos = ids[mid]
            reduced = reduce_for_matching(to_pymatgen(found[mid]))
            for p in protos:
                try:
                    with time_limit(30.0):
                        ok = matcher.fit_anonymous(reduced, p.structure)
                except PairTimeout:
                    ok = False
                if ok and not coordination_ok(reduced, p.coordination or p.family):
                    rejected[p.name].append(formula)
                    ok = False
                if ok:
                    name = f"{dataset}:{mid}"
                    families[p.family]["entries"].append(
                        {"id": name, "formula": formula, "spacegroup": sg, "prototype": p.name})
                    by_proto[p.name].append((name, found[mid]))
                    break
    for p in ideals:
        members = by_proto[p.name]
        keep = distinct_prototypes([c for _, c in members])[: args.max_representatives]
        for i in keep:
            name, crystal = members[i]
            families[p.family]["references"].append(
                {"id": name, "prototype": p.name, "cif": to_cif(crystal)})
        log.info("%s / %s: %d entries, %d representatives; coordination rejects %d: %s",
                 p.family, p.name, len(members), len(keep), len(rejected[p.name]),
                 " ".join(sorted(set(rejected[p.name]))))
    data = {"format": FORMAT, "families": families}
    with gzip.open(args.out, "wt") as fh:
        json.dump(data, fh, indent=0, sort_keys=True)
    log.info("wrote %s", args.out)


def anonymous_formula_key_from_counts(counts: list[int]) -> tuple[int, ...]:
    g = math.gcd(*counts) or 1
    return tuple(sorted(c // g for c in counts))


if __name__ == "__main__":
    main()
