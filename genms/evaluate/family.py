"""Family match: does a structure match any reference prototype of a crystal family?

GenMS §3.1: a generated structure belongs to a family (perovskite, pyrochlore, spinel...) when
``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10).fit_anonymous`` returns True for at least
one reference structure of that family. ``fit_anonymous`` maps species onto species, so a
perovskite of any elements matches a cubic SrTiO3 prototype.

References are prepared once (:class:`FamilyReferences`): each is reduced to its primitive,
Niggli cell (what ``fit_anonymous`` would do on every call) and indexed by its anonymised
reduced formula and primitive site count. ``fit_anonymous`` can only succeed when both agree
(it requires equal fractional compositions up to a species permutation and, without
supercells, equal primitive cells), so the other references are skipped without changing the
answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from genms.crystal.convert import CIFParseError, from_cif
from genms.evaluate.matching import (
    DEFAULT_MATCH,
    MatchConfig,
    PairTimeout,
    structure_matcher,
    time_limit,
)
from genms.evaluate.parallel import parallel_map
from genms.evaluate.validity import CrystalLike, build_structure

log = logging.getLogger(__name__)


def anonymous_formula_key(structure: Structure) -> tuple[int, ...]:
    """Sorted element counts reduced by their gcd (``AB2`` and ``C2D4`` give (1, 2))."""
    counts = [int(round(v)) for v in structure.composition.values()]
    g = math.gcd(*counts) or 1
    return tuple(sorted(c // g for c in counts))


def reduce_for_matching(structure: Structure) -> Structure:
    """The primitive, Niggli-reduced cell ``StructureMatcher`` compares (its own reduction)."""
    return StructureMatcher._get_reduced_structure(Structure.from_sites(structure), True, True)


@dataclass(frozen=True)
class _Reference:
    name: str
    reduced: Structure


class FamilyReferences:
    """Reference prototypes of one family, reduced and indexed for fast anonymous matching."""

    def __init__(
        self,
        structures: Sequence[CrystalLike],
        names: Sequence[str] | None = None,
        check: Callable[[Structure], bool] | None = None,
    ) -> None:
        """``check``: a condition a ``fit_anonymous`` success must also meet (picklable)."""
        self.check = check
        if names is not None and len(names) != len(structures):
            raise ValueError(f"{len(names)} names for {len(structures)} reference structures")
        self._index: dict[tuple[tuple[int, ...], int], list[_Reference]] = {}
        self.n_skipped = 0
        for i, x in enumerate(structures):
            s, _, why = build_structure(x)
            if s is None:
                self.n_skipped += 1
                log.warning("reference %s skipped: %s", names[i] if names else i, why)
                continue
            reduced = reduce_for_matching(s)
            key = (anonymous_formula_key(reduced), len(reduced))
            name = str(names[i]) if names is not None else str(i)
            self._index.setdefault(key, []).append(_Reference(name, reduced))

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    def candidates(self, reduced: Structure) -> list[_Reference]:
        """References ``reduced`` could possibly match (same anonymous formula and size)."""
        return self._index.get((anonymous_formula_key(reduced), len(reduced)), [])

    @classmethod
    def from_path(cls, path: str | Path) -> FamilyReferences:
        """Load references from a folder of ``.cif`` files or a CSV with a ``cif`` column."""
        p = Path(path).expanduser()
        texts: list[tuple[str, str]] = []
        if p.is_dir():
            texts = [(f.stem, f.read_text()) for f in sorted(p.rglob("*.cif"))]
        elif p.is_file() and p.name.lower().endswith((".csv", ".csv.gz")):
            df = pd.read_csv(p)
            if "cif" not in df.columns:
                raise ValueError(
                    f"{p}: a reference CSV needs a 'cif' column, found {list(df.columns)}"
                )
            ids = df["material_id"] if "material_id" in df.columns else df.index
            texts = [(str(i), str(c)) for i, c in zip(ids, df["cif"], strict=True)]
        elif p.is_file():
            texts = [(p.stem, p.read_text())]
        else:
            raise FileNotFoundError(
                f"reference path {p} not found (a .cif folder or a CSV with a cif column)"
            )
        crystals, names = [], []
        for name, text in texts:
            try:
                crystals.append(from_cif(text))
                names.append(name)
            except CIFParseError as exc:
                log.warning("reference %s skipped: %s", name, exc)
        if not crystals:
            raise ValueError(f"no parsable reference structures in {p}")
        return cls(crystals, names)


@dataclass(frozen=True)
class FamilyMatch:
    matched: bool
    reference: str | None = None  # name of the first matching reference
    n_compared: int = 0
    n_timeouts: int = 0
    error: str = ""


def family_match(
    x: CrystalLike, references: FamilyReferences, config: MatchConfig = DEFAULT_MATCH
) -> FamilyMatch:
    """``fit_anonymous(x, ref)`` against the candidate references; True on the first match."""
    s, _, why = build_structure(x)
    if s is None:
        return FamilyMatch(False, error=f"not constructed: {why}")
    matcher = structure_matcher(config.stol, config.ltol, config.angle_tol)
    try:
        with time_limit(config.timeout_s):
            reduced = reduce_for_matching(s)
    except PairTimeout:
        return FamilyMatch(False, n_timeouts=1, error="cell reduction timed out")
    except Exception as exc:
        return FamilyMatch(False, error=f"{type(exc).__name__}: {exc}")
    n_compared = n_timeouts = 0
    for ref in references.candidates(reduced):
        n_compared += 1
        try:
            with time_limit(config.timeout_s):
                ok = matcher.fit_anonymous(reduced, ref.reduced, skip_structure_reduction=True)
        except PairTimeout:
            n_timeouts += 1
            continue
        except Exception as exc:  # a failing comparison is a non-match
            log.debug("fit_anonymous failed against %s: %s", ref.name, exc)
            continue
        if ok and references.check is not None and not references.check(reduced):
            return FamilyMatch(False, None, n_compared, n_timeouts, f"coordination ({ref.name})")
        if ok:
            return FamilyMatch(True, ref.name, n_compared, n_timeouts)
    return FamilyMatch(False, None, n_compared, n_timeouts)


_WORKER_REFS: FamilyReferences | None = None


def _install_references(references: FamilyReferences) -> None:
    global _WORKER_REFS
    _WORKER_REFS = references


class _FamilyTask:
    def __init__(self, config: MatchConfig) -> None:
        self.config = config

    def __call__(self, x: CrystalLike) -> FamilyMatch:
        assert _WORKER_REFS is not None, "references are installed by the pool initializer"
        return family_match(x, _WORKER_REFS, self.config)


def family_match_many(
    structures: Sequence[CrystalLike],
    references: FamilyReferences,
    config: MatchConfig = DEFAULT_MATCH,
    n_workers: int | None = 1,
    progress: bool = True,
) -> list[FamilyMatch]:
    """:func:`family_match` for many structures; references are sent to each worker once."""
    out = parallel_map(
        _FamilyTask(config), list(structures), n_workers, "family match", progress=progress,
        initializer=_install_references, initargs=(references,),
    )
    n_timeouts = sum(r.n_timeouts for r in out)
    if n_timeouts:
        log.warning("%d fit_anonymous comparisons hit the %.0f s limit (counted as non-matches)",
                    n_timeouts, config.timeout_s)
    return out
