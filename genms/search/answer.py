"""The answer of a search as it is shown: numbered rows, file names, space groups, novelty.

The printed table, ``report.md``/``report.html``, ``summary.json`` and the CIF files all come
from :func:`build_answer`, so they agree with each other:

* rows are numbered 1, 2, 3, ... in the order shown, also when near-copies are left out
  (``rank`` keeps the position among every kept structure, as in ``candidates.csv``);
* file names are ``NN_<reduced formula>`` with letters, digits and underscores only
  (``03_MnRh2S4.cif``), safe in any shell;
* CIFs are symmetrised (``CifWriter(symprec=...)``, the refined conventional cell) and the
  space group shown is the one of the written CIF; where spglib finds no symmetry at that
  tolerance the CIF is written in P1 and the table says so;
* novelty is worded for what it is: "not in the N reference formulae from MP-20, ...", or
  the datasets that hold the formula.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

from pymatgen.core import Composition
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from genms.crystal.composition import composition_from_numbers
from genms.language.rhi import CHECKS as RHI_CHECKS
from genms.search.candidates import REJECTIONS, Candidate, FormulaNode, SearchResult

log = logging.getLogger(__name__)

#: Default tolerances of the symmetry analysis (Å and degrees).
SYMPREC = 0.1
ANGLE_TOLERANCE = 5.0


def safe_formula(formula: str) -> str:
    """The reduced formula in electronegativity order with only letters and digits
    (``Mn(RhS2)2`` -> ``MnRh2S4``); ``_`` replaces anything else when it is not a formula."""
    try:
        tokens = Composition(formula).reduced_composition.formula.split()  # "Mn1 Rh2 S4"
        text = "".join(re.sub(r"(?<=[A-Za-z])1$", "", t) for t in tokens)
    except Exception:  # not a formula: keep what can be kept
        text = formula
    return re.sub(r"[^A-Za-z0-9_]", "_", text) or "structure"


@dataclass(frozen=True)
class Symmetry:
    """Space group of a structure and its symmetrised CIF at one tolerance."""

    symbol: str  # "Pm-3m"; "P1" when spglib found nothing
    number: int
    cif: str
    n_atoms_cif: int  # atoms in the written (conventional) cell
    symprec: float
    angle_tolerance: float
    note: str = ""
    structure: Any = None  # the written cell (pymatgen Structure), drawn in the report

    @property
    def label(self) -> str:
        return f"{self.symbol} ({self.number})"


#: Tolerance (Å) of the analysis of an already refined (exactly symmetric) cell.
_TIGHT = 1e-3


def _round_trip(cif: str, number: int, n_atoms: int, formula: str) -> bool:
    """Whether ``cif`` reads back as ``n_atoms`` atoms of ``formula`` in space group ``number``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = CifParser.from_str(cif).parse_structures(primitive=False)[0]
        return (
            len(back) == n_atoms
            and back.composition.reduced_formula == formula
            and SpacegroupAnalyzer(back, symprec=_TIGHT).get_space_group_number() == number
        )
    except Exception:
        return False


def symmetrise(
    structure: Any,
    symprec: float = SYMPREC,
    angle_tolerance: float = ANGLE_TOLERANCE,
    header: str = "",
) -> Symmetry:
    """The symmetrised CIF of a pymatgen ``Structure`` and its space group, with a header of
    ``#`` comment lines (``header``) and a line stating the tolerances.

    spglib finds the space group at ``symprec`` and refines the cell (idealised positions,
    conventional setting); the CIF lists the refined cell's symmetry-distinct sites and the
    operations of that same group, and is read back to check that it gives the same atoms and
    space group (``CifWriter(symprec=...)`` alone can pair the refined sites with operations
    found on the unrefined cell). Where that check fails, the refined cell is written with every
    atom listed (P1 setting, same space group on analysis); where spglib fails, the generated
    cell in P1.
    """
    note = ""
    try:
        sga = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=angle_tolerance)
        symbol, number = sga.get_space_group_symbol(), sga.get_space_group_number()
        written = sga.get_refined_structure()
        tight = SpacegroupAnalyzer(written, symprec=_TIGHT, angle_tolerance=angle_tolerance)
        if tight.get_space_group_number() != number:
            raise ValueError(f"the refined cell is {tight.get_space_group_symbol()}, not {symbol}")
        cif = str(
            CifWriter(written, symprec=_TIGHT, angle_tolerance=angle_tolerance, refine_struct=False)
        )
        formula = written.composition.reduced_formula
        if not _round_trip(cif, number, len(written), formula):
            cif = str(CifWriter(written))
            note = "every atom of the refined cell listed (P1 setting)"
        tol = (
            f"symmetrised with spglib: symprec {symprec:g} A, angle tolerance {angle_tolerance:g} "
            "deg; "
            f"space group {symbol} ({number}); refined conventional cell"
            + (f"; {note}" if note else "")
        )
    except Exception as exc:  # spglib gives up on some distorted cells: P1, said so
        log.debug("symmetry analysis failed: %s", exc)
        symbol, number, written = "P1", 1, structure
        cif = str(CifWriter(structure))
        note = f"no symmetry found at symprec {symprec:g} A: written in P1"
        tol = note
    # CIF 1.1 is ASCII: anything else in the comments becomes "?"
    text = (header + "\n" + tol).encode("ascii", "replace").decode()
    lines = [f"# {line}" for line in text.splitlines() if line.strip()]
    return Symmetry(
        symbol,
        number,
        "\n".join(lines) + "\n" + cif,
        len(written),
        symprec,
        angle_tolerance,
        note,
        written,
    )


@dataclass(frozen=True)
class AnswerRow:
    """One structure of the answer as shown."""

    position: int  # 1, 2, 3, ... in the order shown
    candidate: Candidate
    stem: str  # "03_MnRh2S4": the CIF and picture file name without extension
    symmetry: Symmetry
    novelty: str  # "not in the reference" or "in WBM, MP-20"
    novel: bool | None  # None: unknown (no reference and no R_hi uniqueness check)

    @property
    def formula(self) -> str:
        return self.candidate.formula

    @property
    def display(self) -> str:
        """The reduced formula written plainly (``SiNi2S4``, not pymatgen's ``Si(NiS2)2``)."""
        return safe_formula(self.candidate.formula)

    @property
    def cif_name(self) -> str:
        return f"{self.stem}.cif"


def _novelty(formula: str, result: SearchResult, reference: Any | None) -> tuple[str, bool | None]:
    if reference is not None:
        claim = reference.known_claim(formula)
        return (claim, False) if claim else ("not in the reference", True)
    node = next((n for n in result.formulae if n.formula == formula), None)
    if node is None or "uniqueness" not in node.checks:
        return "not checked", None
    reason = next((r for r in node.reasons if r.startswith("uniqueness: ")), "")
    if node.checks["uniqueness"] > 0:
        return "not in the reference", True
    m = re.search(r"known: (in [^(]+)", reason)
    return (m.group(1).strip() if m else "in the reference"), False


def _origin(reference: Any) -> str:
    phrase = getattr(reference, "origin_phrase", None)
    return phrase() if callable(phrase) else "the data folder"


def novelty_note(reference: Any | None) -> str:
    """The sentence that says what "not in the reference" means for this run."""
    if reference is None:
        return (
            "'not in the reference' means: not among the reference formulae R_hi checked; "
            "it is not a check against every known material"
        )
    return (
        f"'not in the reference' means {reference.novelty_claim()} "
        f"({_origin(reference)}); "
        "it is not a check against the full Materials Project or the ICSD"
    )


def build_answer(
    result: SearchResult,
    k: int,
    distinct: bool = True,
    symprec: float = SYMPREC,
    reference: Any | None = None,
) -> list[AnswerRow]:
    """The ``k`` structures shown as the answer, numbered as shown (see the module docstring)."""
    rows = []
    for position, cand in enumerate(result.top(k, distinct), start=1):
        stem = f"{position:02d}_{safe_formula(cand.formula)}"
        e = "—" if cand.e_form is None else f"{cand.e_form:.3f} eV/atom"
        header = (
            f"GenMS answer {position}: {cand.formula} (candidate {cand.id}, rank {cand.rank} of "
            "the kept "
            f"structures)\npredicted formation energy {e}; score "
            f"{cand.score if cand.score is None else round(cand.score, 4)}\n"
            f"request: {' '.join(result.request_text.split())}"
        )
        novelty, novel = _novelty(cand.formula, result, reference)
        rows.append(
            AnswerRow(
                position,
                cand,
                stem,
                symmetrise(cand.structure, symprec, header=header),
                novelty,
                novel,
            )
        )
    return rows


def _fmt(x: float | None, digits: int = 3) -> str:
    return (
        "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"
    )


#: Statuses whose dropped structures are listed one by one (with the reason) in the report.
_DETAILED = (
    "short_contact",
    "invalid_structure",
    "wrong_composition",
    "invalid_composition",
    "out_of_range",
    "uncertain",
    "energy_failed",
)


def drop_reason(c: Candidate) -> str:
    """Why one structure was dropped, with its numbers."""
    if c.status == "short_contact":
        return f"shortest contact {c.contact}" if c.contact else "no contact could be measured"
    if c.status == "invalid_structure":
        return f"minimum distance {_fmt(c.min_distance, 2)} Å, volume {_fmt(c.volume, 1)} Å³"
    if c.status == "wrong_composition":
        return (
            f"sampled {composition_from_numbers(c.crystal.atomic_numbers).reduced_formula}, asked "
            f"for {c.formula}"
        )
    if c.status == "invalid_composition":
        return "no charge-neutral oxidation states pass SMACT's Pauling test"
    if c.status in ("out_of_range", "uncertain"):
        spread = "" if c.e_form_std is None else f" ± {c.e_form_std:.3f}"
        return f"predicted E_f {_fmt(c.e_form)}{spread} eV/atom"
    return REJECTIONS.get(c.status, c.status)


def dropped_summary(result: SearchResult, per_status: int = 10) -> dict:
    """Per status: how many structures were dropped, what the filter means, and the first few."""
    out: dict[str, dict] = {}
    for status in _DETAILED:
        cands = [c for c in result.candidates if c.status == status]
        if not cands:
            continue
        if status == "short_contact":
            cands = sorted(
                cands, key=lambda c: c.contact_ratio if c.contact_ratio == c.contact_ratio else -1.0
            )
        out[status] = {
            "count": len(cands),
            "meaning": REJECTIONS.get(status, status),
            "examples": [
                {"id": c.id, "formula": c.formula, "reason": drop_reason(c)}
                for c in cands[:per_status]
            ],
        }
    return out


def atoms_text(row) -> str:
    """Atoms of the generated cell, and of the CIF's conventional cell where that differs."""
    n, m = row.candidate.n_atoms, row.symmetry.n_atoms_cif
    return str(n) if n == m else f"{n} ({m} in CIF)"


def formula_reasons(node: FormulaNode) -> list[str]:
    """The reasons of one formula without repeats: R_hi's checks (a passed syntax check left
    out); the proposer's own reasons only where no check says the same (an LLM's note)."""
    checks = [r for r in node.reasons if r.split(":", 1)[0] in RHI_CHECKS]
    shown = [
        r for r in checks if not r.startswith("syntax: ") or node.checks.get("syntax", 1.0) < 1.0
    ]
    # the report says once what the reference is
    shown = [
        "uniqueness: novel, not in the reference"
        if r.startswith("uniqueness: novel: not in the ")
        else r
        for r in shown
    ]
    if (
        node.source != "offline"
    ):  # the offline proposer's reasons restate R_hi's fit, charge and novelty
        shown = [r for r in node.reasons if r not in checks][:1] + shown
    return list(dict.fromkeys(shown)) + ([node.note] if node.note else [])
