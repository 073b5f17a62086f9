"""The benchmark test splits the MP training union is kept free of (``data.union_holdout``).

For each held-out split the union (:mod:`genms.data.union`) removes every candidate whose
material id is in the split's file, whose reduced formula and space group equal those of one of
its entries, or that ``StructureMatcher`` matches to one of its entries of the same reduced
formula. MP-20 test is the union's own test split and is always held out; its skip reasons and
``meta["union"]`` keys are those the union had before other splits could be held out
(``val_test_id``, ``test_formula_spacegroup``, ``near_duplicate_test_ids``, ...). Every other
split's reasons and keys carry its ``prefix`` (``mpts_52_test_structure_match``,
``mpts_52_near_duplicate_test_ids``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genms.data.arrays import CrystalArrays
from genms.data.prepare import PrepareContext
from genms.data.union_match import SG, fill_spacegroups, formula_keys

#: The union's test rules (rules 4 and 5 of docs/data.md), by their MP-20 skip reason.
RULES = ("test_formula_spacegroup", "test_structure_match")


@dataclass(frozen=True)
class HoldOut:
    """A test split the union is kept free of.

    Attributes:
      name: its ``data.union_holdout`` value.
      dataset: the dataset whose ``split`` file holds it (``genms.data.sources.DATASETS``).
      title: its name in messages and rule texts.
      id_reason: the skip reason of a candidate whose material id is in the split's file.
      prefix: put before the rules' skip reasons and the ``meta["union"]`` keys of this split.
      split: the file of ``dataset`` that holds it.
    """

    name: str
    dataset: str
    title: str
    id_reason: str
    prefix: str
    split: str = "test"

    def key(self, name: str) -> str:
        """This split's skip reason of a rule, or its ``meta["union"]`` key, named ``name``
        for MP-20 test."""
        return self.prefix + name


HOLDOUTS: dict[str, HoldOut] = {
    "mp_20_test": HoldOut("mp_20_test", "mp_20", "MP-20 test", "val_test_id", ""),
    "mpts_52_test": HoldOut("mpts_52_test", "mpts_52", "MPTS-52 test", "mpts_52_test_id",
                            "mpts_52_"),
}


def selected_holdouts(names: list[str] | tuple[str, ...]) -> list[HoldOut]:
    """The held-out splits named in ``names``, in the order the union applies them."""
    return [h for name, h in HOLDOUTS.items() if name in names]


@dataclass
class HeldOutSet:
    """A held-out split as read: its material ids, its entries (``test``, with the space group
    of each as target ``spacegroup_number``, NaN where spglib fails), their entries by
    (reduced formula, space group) and how many of those space groups were computed now (not
    given, not cached)."""

    holdout: HoldOut
    ids: set[str]
    test: CrystalArrays
    by_pair: dict[tuple, list[int]]
    spacegroups_computed: int

    @classmethod
    def create(cls, holdout: HoldOut, ids: set[str], test: CrystalArrays,
               ctx: PrepareContext) -> HeldOutSet:
        """Fill in the space groups of ``test`` (given, else computed and cached)."""
        sg, computed = fill_spacegroups(test, ctx)
        by_pair: dict[tuple, list[int]] = {}
        for j, pair in enumerate(zip(formula_keys(test), sg.tolist(), strict=True)):
            by_pair.setdefault(pair, []).append(j)
        test = CrystalArrays(test.frac_coords, test.atomic_numbers, test.lattice, test.n_atoms,
                             test.ids, dict(test.targets) | {SG: sg}, test.meta)
        return cls(holdout, ids, test, by_pair, computed)

    def formula_spacegroup_rule(self, pairs: list[tuple]) -> tuple[np.ndarray, set[int]]:
        """Rule 4 on candidates given as (reduced formula key, space group or NaN): which are
        dropped (a formula of this split with its space group, or with an unknown one), and
        the entries of this split whose pair some candidate shares."""
        formulae = {k for k, _ in self.by_pair}
        drop = np.array([k in formulae and ((k, s) in self.by_pair or not np.isfinite(s))
                         for k, s in pairs], bool)
        hits = {j for pair in pairs for j in self.by_pair.get(pair, ())}
        return drop, hits


def near_duplicate_test_ids(test: CrystalArrays, spacegroup_hits: set[int],
                            structure_hits: set[int]) -> dict[str, list[str]]:
    """Per test rule, the sorted material ids of the test entries it hit.

    ``test_formula_spacegroup``: every test entry whose reduced formula and space group equal
    those of a dropped candidate (a candidate dropped only because its space group could not be
    computed hits no particular entry and adds none); ``test_structure_match``: every test entry
    that ``StructureMatcher`` matched to a candidate. Each id names a test crystal that the
    Materials Project sources hold under another id.
    """
    return {
        rule: sorted({str(test.ids[j]) for j in hits})
        for rule, hits in zip(RULES, (spacegroup_hits, structure_hits), strict=True)
    }


def candidates_text(names: list[str] | tuple[str, ...], max_atoms: int) -> str:
    """The union's candidates, in words, for the rule texts of a near-duplicate list."""
    held = selected_holdouts(names)
    files = " and ".join(["the MP-20 val/test files"]
                         + [f"the {h.title} file" for h in held if h.prefix])
    return (f"MP-20 train, mp_cgcnn_36k or MPTS-52 row with <= {max_atoms} atoms and a material "
            f"id outside {files}")
