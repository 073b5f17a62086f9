"""Composition handling through pymatgen and SMACT (no hand-written chemistry tables).

Formula parsing, reduction, formula units and oxidation-state guesses come from pymatgen's
``Composition``; charge neutrality with the electronegativity (Pauling) test comes from SMACT
and follows CDVAE/DiffCSP's ``smact_validity`` exactly (``genms.evaluate.validity`` uses it).
"""

from __future__ import annotations

import itertools
import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

_FORMULA_RE = re.compile(r"^(\(?[A-Z][a-z]?\d*(\.\d+)?\)?\d*)+$")


class FormulaError(ValueError):
    """Raised for text that is not a chemical formula of known elements."""


def parse_formula(formula: str) -> Composition:
    """Parse a formula string into a pymatgen ``Composition``; clear error when invalid."""
    from pymatgen.core import Composition, Element

    text = str(formula).strip().replace(" ", "")
    if not text or not _FORMULA_RE.match(text):
        raise FormulaError(f"{formula!r} is not a chemical formula (expected e.g. 'SrTiO3')")
    try:
        comp = Composition(text)
    except Exception as exc:
        raise FormulaError(f"{formula!r} is not a chemical formula: {exc}") from exc
    for el in comp.elements:
        if not isinstance(el, Element) or el.Z > 103:
            raise FormulaError(f"{formula!r} contains an unsupported element {el}")
    if comp.num_atoms <= 0:
        raise FormulaError(f"{formula!r} has no atoms")
    return comp


def as_composition(formula: str | Composition) -> Composition:
    from pymatgen.core import Composition

    return formula if isinstance(formula, Composition) else parse_formula(formula)


def reduced_formula(formula: str | Composition) -> str:
    """Reduced formula in pymatgen's canonical form (A2B4 and AB2 give the same string)."""
    return as_composition(formula).reduced_formula


def formula_units(formula: str | Composition) -> int:
    """Number of formula units Z: the gcd of the integer element counts."""
    comp = as_composition(formula)
    counts = [int(round(v)) for v in comp.values()]
    return math.gcd(*counts) if counts else 0


def atomic_numbers_for(formula: str | Composition, z: int = 1) -> np.ndarray:
    """Atomic numbers (sorted by element) for ``z`` copies of the *reduced* formula."""
    comp = as_composition(formula)
    reduced, _ = comp.get_reduced_composition_and_factor()
    numbers: list[int] = []
    for el, amount in sorted(reduced.items(), key=lambda kv: kv[0].Z):
        count = int(round(amount))
        if abs(amount - count) > 1e-6:
            raise FormulaError(f"{comp.formula!r} has fractional occupancy {el}{amount}")
        numbers.extend([el.Z] * count * z)
    return np.array(numbers, dtype=np.int64)


def composition_from_numbers(atomic_numbers: np.ndarray) -> Composition:
    from pymatgen.core import Composition, Element

    counts: dict[str, int] = {}
    for z in np.asarray(atomic_numbers).tolist():
        sym = Element.from_Z(int(z)).symbol
        counts[sym] = counts.get(sym, 0) + 1
    return Composition(counts)


def oxidation_state_guesses(formula: str | Composition, max_sites: int | None = None) -> list[dict]:
    """pymatgen's ranked oxidation-state assignments (empty list: none is charge balanced)."""
    return list(as_composition(formula).oxi_state_guesses(max_sites=max_sites))


@lru_cache(maxsize=200_000)
def _smact_valid_cached(symbols: tuple[str, ...], counts: tuple[int, ...]) -> bool:
    import smact
    from smact.screening import pauling_test

    space = smact.element_dictionary(symbols)
    smact_elems = [space[s] for s in symbols]
    electronegs = [e.pauling_eneg for e in smact_elems]
    ox_combos = [e.oxidation_states for e in smact_elems]
    if len(set(symbols)) == 1:
        return True
    if all(s in smact.metals for s in symbols):  # alloys count as valid (CDVAE include_alloys)
        return True
    threshold = max(counts)
    n_comb = np.prod([len(ls) for ls in ox_combos])
    if n_comb > 1e7:
        return False
    for ox_states in itertools.product(*ox_combos):
        stoichs = [(c,) for c in counts]
        # SMACT >= 3 returns the list of neutral ratios (older releases a (bool, list) pair).
        if smact.neutral_ratios(ox_states, stoichs=stoichs, threshold=threshold):
            try:
                electroneg_ok = pauling_test(ox_states, electronegs)
            except TypeError:  # an element without an electronegativity passes (as in CDVAE)
                electroneg_ok = True
            if electroneg_ok:
                return True
    return False


def smact_valid(formula: str | Composition | np.ndarray) -> bool:
    """CDVAE/DiffCSP composition validity: SMACT charge neutrality + Pauling test.

    Accepts a formula, a Composition or an array of atomic numbers. Counts are reduced by
    their gcd first, as CDVAE does.
    """
    comp = (
        composition_from_numbers(formula)
        if isinstance(formula, np.ndarray)
        else as_composition(formula)
    )
    items = sorted(comp.items(), key=lambda kv: kv[0].Z)
    symbols = tuple(el.symbol for el, _ in items)
    counts = [int(round(v)) for _, v in items]
    g = math.gcd(*counts)
    return _smact_valid_cached(symbols, tuple(c // g for c in counts))
