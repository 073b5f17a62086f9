"""What happened to every source row: kept, or skipped for a named reason.

A :class:`SkipReport` counts skipped rows by reason and keeps a few examples per reason;
it is stored in the prepared file (``meta["report"]``) and rendered as a rich table by
``genms data prepare``. No row is ever dropped without being counted here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.table import Table

#: Every reason a row can be skipped for, with the text shown to users.
REASONS: dict[str, str] = {
    "cif_parse_error": "the CIF could not be parsed",
    "disordered": "partial occupancies (no single element per site)",
    "reduction_failed": "Niggli reduction or cell canonicalisation failed",
    "bad_encoding": "the row holds bytes that are not UTF-8 (only this row is skipped)",
    "nonpositive_cell": "a lattice length in the CIF is zero or negative, or an angle is outside "
    "(0, 180) degrees",
    "absurd_cell": "a lattice length above 1,000 Å or a volume per atom above 10,000 Å³",
    "overlapping_atoms": "two atoms closer than 0.5 Å",
    "truncated_cif": "the atoms read disagree with the CIF's _chemical_formula_sum (a truncated "
    "atom loop)",
    "formula_mismatch": "the CIF's composition differs from the row's formula column",
    "missing_target": "the required target is missing or NaN",
    "too_many_atoms": "more atoms than data.max_atoms",
    "missing_id": "the row has no id",
    "duplicate_id": "an earlier row with the same id was kept",
    "target_outlier": "target outside the accepted range (mp_cgcnn: formation energy < -5 eV/atom)",
    "val_test_id": "MP union: material id is in the MP-20 val or test files",
    "test_formula_spacegroup": "MP union: reduced formula and space group equal an MP-20 test "
    "entry's",
    "test_structure_match": "MP union: StructureMatcher matches the structure to an MP-20 test "
    "entry",
    "mpts_52_test_id": "MP union: material id is in the MPTS-52 test file",
    "mpts_52_test_formula_spacegroup": "MP union: reduced formula and space group equal an "
    "MPTS-52 test entry's",
    "mpts_52_test_structure_match": "MP union: StructureMatcher matches the structure to an "
    "MPTS-52 test entry",
}

MAX_EXAMPLES = 3


@dataclass
class SkipReport:
    """Counts for one prepared split (or one union source)."""

    rows: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, row_id: str, message: str = "") -> None:
        if reason not in REASONS:
            raise KeyError(f"unknown skip reason {reason!r}; known: {sorted(REASONS)}")
        self.skipped[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{row_id}: {message}" if message else str(row_id))

    @property
    def n_skipped(self) -> int:
        return int(sum(self.skipped.values()))

    def check(self) -> None:
        """Every row is either kept or counted as skipped."""
        if self.kept + self.n_skipped != self.rows:
            raise AssertionError(
                f"report does not add up: {self.rows} rows != {self.kept} kept + {self.n_skipped} "
                "skipped"
            )

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "skipped": dict(sorted(self.skipped.items())),
            "examples": self.examples,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SkipReport:
        return cls(
            d.get("rows", 0),
            d.get("kept", 0),
            Counter(d.get("skipped", {})),
            dict(d.get("examples", {})),
        )


def format_skipped(skipped: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(skipped.items()) if v) or "-"


def render_split_table(rows: list[dict], title: str = "genms data prepare"):
    """rows: dicts with dataset, split, status, report (dict), path -> a rich Table."""
    table = Table(title=title)
    for col, justify in (
        ("dataset", "left"),
        ("split", "left"),
        ("rows", "right"),
        ("kept", "right"),
        ("skipped", "right"),
        ("skipped by reason", "left"),
        ("status", "left"),
    ):
        table.add_column(col, justify=justify)
    for r in rows:
        rep = r.get("report") or {}
        skipped = rep.get("skipped", {})
        table.add_row(
            r["dataset"],
            r["split"],
            str(rep.get("rows", "")),
            str(rep.get("kept", "")),
            str(sum(skipped.values())) if rep else "",
            format_skipped(skipped) if rep else "",
            r["status"],
        )
    return table


def render_union_table(union_meta: dict):
    """The MP union's per-source counts (``meta["union"]``) -> a rich Table."""
    table = Table(title="MP training union (train split) by source")
    cols = ("source", "rows", "kept", "skipped by reason")
    for c in cols:
        table.add_column(c, justify="right" if c in ("rows", "kept") else "left")
    for name, rep in union_meta.get("sources", {}).items():
        table.add_row(name, str(rep["rows"]), str(rep["kept"]), format_skipped(rep["skipped"]))
    totals = union_meta.get("totals", {})
    if totals:
        table.add_row("total", str(totals.get("rows", "")), str(totals.get("kept", "")),
                      format_skipped(totals.get("skipped", {})))
    return table
