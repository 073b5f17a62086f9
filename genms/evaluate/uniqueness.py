"""Formula uniqueness against a set of known reduced formulae (GenMS §3.1).

"A generated formula is unique if the reduced form of the formula does not exist in either
Materials Project or ICSD": both sides are reduced with pymatgen, so a generated ``A2B4`` is a
duplicate of a known ``AB2``.

The end-to-end benchmark measures uniqueness against :func:`independent_reference`: every
reduced formula of every data-folder source (MP-20 all splits, mp_cgcnn, MPTS-52, WBM, Perov-5,
Carbon-24), shipped as ``genms/assets/uniqueness_formulae.txt.gz`` and rebuilt by
``scripts/build_uniqueness_reference.py``; its header lists the rows read per source and what is
missing (ICSD above all). It is a superset of, and built independently from, the known set the
search's R_hi filters with.

Reference files: plain text (one formula per line, ``#`` comments), or CSV (optionally
gzipped) with a ``reduced_formula``, ``pretty_formula`` or ``formula`` column, or else a
``cif`` column (the formula is read from ``_chemical_formula_sum``).
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from genms.crystal.composition import FormulaError, composition_from_numbers, reduced_formula
from genms.crystal.convert import CIFParseError, from_cif
from genms.paths import ASSETS_DIR

log = logging.getLogger(__name__)

INDEPENDENT_PATH = ASSETS_DIR / "uniqueness_formulae.txt.gz"
INDEPENDENT_SOURCES = ("mp_20", "mp_cgcnn", "mpts_52", "wbm", "perov_5", "carbon_24")
_FORMULA_COLUMNS = ("reduced_formula", "pretty_formula", "formula")
_CIF_SUM = re.compile(r"_chemical_formula_sum\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))")


class ReferenceFormulae:
    """A set of reduced formulae (e.g. every Materials Project / ICSD composition)."""

    def __init__(self, formulae: Iterable[str]) -> None:
        self._reduced: set[str] = set()
        self.n_skipped = 0
        for f in formulae:
            try:
                self._reduced.add(reduced_formula(f))
            except FormulaError:
                self.n_skipped += 1
        if self.n_skipped:
            log.warning(
                "skipped %d reference entries that are not chemical formulae", self.n_skipped
            )

    def __len__(self) -> int:
        return len(self._reduced)

    def __contains__(self, formula: str) -> bool:
        return reduced_formula(formula) in self._reduced

    def is_unique(self, formula: str) -> bool:
        """True when the reduced formula is not among the references."""
        return formula not in self

    @classmethod
    def from_file(cls, path: str | Path) -> ReferenceFormulae:
        """Load a ``.txt`` or ``.csv`` (``.csv.gz``) reference file (see the module docstring)."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(
                f"reference formulae file {p} not found; pass a .txt (one formula per line) or a "
                "CSV with a formula column as reference_formulae=PATH"
            )
        name = p.name.lower()
        if name.endswith((".csv", ".csv.gz")):
            return cls(_formulae_from_csv(p))
        text = gzip.open(p, "rt").read() if name.endswith(".gz") else p.read_text()
        lines = text.splitlines()
        return cls(line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip())


def _formula_from_cif(text: str) -> str:
    m = _CIF_SUM.search(text)
    if m:
        return next(g for g in m.groups() if g is not None).replace(" ", "")

    try:
        return composition_from_numbers(from_cif(text).atomic_numbers).reduced_formula
    except CIFParseError:
        return ""


def _formulae_from_csv(path: Path) -> list[str]:
    df = pd.read_csv(path)
    for col in _FORMULA_COLUMNS:
        if col in df.columns:
            return df[col].dropna().astype(str).tolist()
    if "cif" in df.columns:
        return [_formula_from_cif(t) for t in df["cif"].dropna().astype(str)]
    raise ValueError(
        f"{path}: no formula column; expected one of {_FORMULA_COLUMNS + ('cif',)}, "
        f"found {list(df.columns)}"
    )


def is_unique(formula: str, references: ReferenceFormulae) -> bool:
    return references.is_unique(formula)


def uniqueness(formulae: Iterable[str], references: ReferenceFormulae) -> float:
    """Fraction of ``formulae`` whose reduced form is not among the references."""
    flags = [references.is_unique(f) for f in formulae]
    return sum(flags) / len(flags) if flags else 0.0


def independent_reference(path: str | Path = INDEPENDENT_PATH) -> ReferenceFormulae:
    """Every reduced formula of every data-folder source (see the module docstring)."""
    return ReferenceFormulae.from_file(path)


def reference_header(path: str | Path = INDEPENDENT_PATH) -> list[str]:
    """The ``#`` lines of a reference file: its sources, row counts and what it lacks."""
    p = Path(path)
    text = gzip.open(p, "rt").read() if p.name.endswith(".gz") else p.read_text()
    return [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
