"""The MP-20 test entries that have a near duplicate in the Materials Project data here.

A test entry is a *near duplicate* when the Materials Project sources of the data folder hold
the same crystal under another material id: exactly the test entries that the leak-free training
union (:mod:`genms.data.union`) hit when it dropped candidates by its test rules

* ``test_formula_spacegroup``: a candidate with the test entry's reduced formula and space group;
* ``test_structure_match``: a candidate that ``StructureMatcher`` (the CSP benchmark's
  tolerances) matches to the test entry.

The union records those ids in ``meta["union"]["near_duplicate_test_ids"]`` of its train split;
:func:`near_duplicates_document` turns them into the small JSON shipped as
:data:`SHIPPED_PATH` (written by ``scripts/build_mp20_near_duplicates.py``), which the CSP
benchmark reads to report its match rates without those entries. Only the data present here is
searched, so an MP-20 test entry may have a duplicate elsewhere in the Materials Project that is
not listed.
"""

from __future__ import annotations

import json
from pathlib import Path

from genms.data.holdout import RULES, candidates_text
from genms.data.prepare import SplitResult
from genms.io import atomic_write_json
from genms.paths import ASSETS_DIR

SHIPPED_PATH = ASSETS_DIR / "mp20_test_near_duplicates.json"


class NearDuplicatesError(ValueError):
    """The union's meta has no near-duplicate ids (it was prepared by an older genms)."""


def _rule_text(settings: dict, match: dict) -> dict[str, str]:
    candidates = candidates_text(settings.get("union_holdout", ["mp_20_test"]),
                                 settings["max_atoms"])
    return {
        "test_formula_spacegroup": (
            f"a union candidate ({candidates}) "
            "has the test entry's reduced formula and space group (MP-20's spacegroup.number, "
            f"else pymatgen SpacegroupAnalyzer with symprec {settings['symprec']:g})"
        ),
        "test_structure_match": (
            "a union candidate left after the first rule, of the same reduced formula, is "
            f"matched to the test entry by StructureMatcher(stol={match['stol']:g}, "
            f"ltol={match['ltol']:g}, angle_tol={match['angle_tol']:g}) "
            f"within {match['timeout_s']:g} s"
        ),
    }


def near_duplicates_document(results: list[SplitResult]) -> dict:
    """The JSON of the near-duplicate MP-20 test ids from the union's prepared splits (as
    ``prepare_dataset("mp_union", ...)`` returns them)."""
    splits = {r.split: r for r in results}
    train, n_test = splits["train"], splits["test"].report["kept"]
    union = train.meta.get("union", {})
    by_rule = union.get("near_duplicate_test_ids")
    if by_rule is None:
        raise NearDuplicatesError(
            f"{train.path} records no near-duplicate test ids; rebuild it with data.force=true"
        )
    ids = sorted(set().union(*(by_rule[r] for r in RULES)))
    settings = train.meta["settings"]
    return {
        "definition": (
            "MP-20 test entries (the test subset in the data folder) for which the Materials "
            "Project sources there hold the same crystal under another material id: the test "
            "entries hit by the MP training union's test rules (docs/data.md, 'The leak-free MP "
            "training union', rules 4 and 5)"
        ),
        "rules": _rule_text(settings, settings["test_structure_match"]),
        "n_test": n_test,
        "n_near_duplicates": len(ids),
        "counts": {r: len(by_rule[r]) for r in RULES}
        | {"both": len(set(by_rule[RULES[0]]) & set(by_rule[RULES[1]]))},
        "limits": (
            "only the Materials Project data in the data folder is searched (the union's "
            "candidate sources among 'sources': MP-20 train, mp_cgcnn_36k and MPTS-52, cells "
            f"with <= {settings['max_atoms']} atoms; MP-20 val is not searched); the formula + "
            "space group rule does not compare structures"
        ),
        "union_fingerprint": train.meta.get("fingerprint"),
        "sources": train.meta.get("sources", []),
        "ids": ids,
        "ids_by_rule": {r: list(by_rule[r]) for r in RULES},
    }


def write_near_duplicates(document: dict, path: str | Path = SHIPPED_PATH) -> Path:
    return atomic_write_json(path, document)


def load_near_duplicate_ids(path: str | Path = SHIPPED_PATH) -> set[str]:
    """The near-duplicate MP-20 test material ids (the shipped list unless ``path`` is given)."""
    return set(json.loads(Path(path).read_text())["ids"])
