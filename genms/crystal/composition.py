"""Composition handling through pymatgen and SMACT (no hand-written chemistry tables).

Formulae are read by one tokenizer (:func:`read_formula`: the writing, fast, no chemistry);
parsing into a ``Composition``, reduction, formula units and oxidation-state guesses come from
pymatgen; composition validity (charge neutrality plus the electronegativity (Pauling)
test) uses SMACT's element data with the oxidation-state list of the SMACT 2.x releases and
follows CDVAE/DiffCSP's ``smact_validity`` exactly (``genms.evaluate.validity`` uses it; see
``docs/metrics.md`` for how SMACT 4 differs).
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import smact
from pymatgen.core import Composition, Element

#: One token of a written formula: an element symbol or a parenthesis, then its amount.
_TOKEN = re.compile(r"([A-Z][a-z]?|\(|\))(\d*(?:\.\d+)?)")


#: Most atoms of one element in a written formula (``NaCl999999999`` is refused, not expanded).
MAX_ELEMENT_COUNT = 1000
#: Most atoms in a written formula, all elements together (parentheses expanded).
MAX_FORMULA_ATOMS = 1000
#: Most atoms in one cell built from a formula (Z copies of it).
MAX_CELL_ATOMS = 1000


class FormulaError(ValueError):
    """Raised for text that is not a chemical formula of known elements."""


class FormulaLimitError(FormulaError):
    """Raised for a formula (or a cell built from one) above a size limit."""


def check_formula_size(formula: str, amounts: dict[str, float]) -> None:
    """Raise :class:`FormulaLimitError` naming the limit when ``amounts`` is too large."""
    for el, n in amounts.items():
        if not math.isfinite(n) or n > MAX_ELEMENT_COUNT:
            raise FormulaLimitError(
                f"formula {formula!r} has {n:g} atoms of {el}; at most {MAX_ELEMENT_COUNT} "
                "atoms of one element are supported"
            )
    total = sum(amounts.values())
    if total > MAX_FORMULA_ATOMS:
        raise FormulaLimitError(
            f"formula {formula!r} has {total:g} atoms; at most {MAX_FORMULA_ATOMS} atoms per "
            "formula are supported"
        )


def check_cell_size(formula: str, n_atoms: int, z: int) -> None:
    """Raise :class:`FormulaLimitError` when a cell of ``z`` formula units of ``n_atoms`` is too
    large."""
    if n_atoms * z > MAX_CELL_ATOMS:
        raise FormulaLimitError(
            f"a cell of {z} formula units of {formula} has {n_atoms * z} atoms; at most "
            f"{MAX_CELL_ATOMS} atoms per cell are supported"
        )


def read_formula(text: str) -> dict[str, float] | None:
    """Element amounts of a written formula, read token by token (nested parentheses and
    decimal amounts allowed), or ``None`` when ``text`` is not written as a formula.

    Only the writing is checked; whether the symbols are elements is :func:`parse_formula`'s
    job (through pymatgen). Fast enough to scan tens of thousands of formulae.
    """
    stack: list[dict[str, float]] = [{}]
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() != pos:
            return None
        pos = m.end()
        symbol, number = m.group(1), m.group(2)
        amount = float(number) if number else 1.0
        if symbol == "(":
            if number:
                return None
            stack.append({})
        elif symbol == ")":
            if len(stack) < 2 or not stack[-1]:
                return None
            inner = stack.pop()
            for el, n in inner.items():
                stack[-1][el] = stack[-1].get(el, 0.0) + n * amount
        else:
            stack[-1][symbol] = stack[-1].get(symbol, 0.0) + amount
    if pos != len(text) or len(stack) != 1 or not stack[0]:
        return None
    return stack[0]


def parse_formula(formula: str) -> Composition:
    """Parse a formula string into a pymatgen ``Composition``; clear error when invalid."""
    text = str(formula).strip().replace(" ", "")
    amounts = read_formula(text) if text else None
    if amounts is None:
        raise FormulaError(f"{formula!r} is not a chemical formula (expected e.g. 'SrTiO3')")
    check_formula_size(text, amounts)
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
    return formula if isinstance(formula, Composition) else parse_formula(formula)


def reduced_formula(formula: str | Composition) -> str:
    """Reduced formula in pymatgen's canonical form (A2B4 and AB2 give the same string)."""
    comp = as_composition(formula)
    with warnings.catch_warnings():
        # pymatgen warns about noble gases' missing electronegativity (ArF2, HeNa2 ...)
        warnings.filterwarnings("ignore", message="No Pauling electronegativity")
        return comp.reduced_formula


@lru_cache(maxsize=200_000)
def canonical_formula(text: str) -> str | None:
    """Reduced formula of ``text`` or None when it is not a formula."""
    with warnings.catch_warnings():
        # pymatgen warns about noble gases' missing electronegativity
        warnings.simplefilter("ignore")
        try:
            return parse_formula(text).reduced_formula
        except FormulaError:
            return None


@lru_cache(maxsize=400_000)
def formula_amounts(formula: str) -> tuple[tuple[str, float], ...]:
    """Element amounts of a formula (:func:`read_formula`; pymatgen for anything it cannot read)."""
    amounts = read_formula(formula.replace(" ", ""))
    if amounts is None:
        return tuple(parse_formula(formula).get_el_amt_dict().items())
    return tuple(amounts.items())


def normalise_ratio(counts: Sequence[int | float]) -> tuple[int, ...]:
    """Order-free canonical form of an atom ratio: divided by the gcd, sorted."""
    ints = [int(round(c)) for c in counts]
    if any(abs(c - i) > 1e-6 for c, i in zip(counts, ints, strict=True)) or any(
        i <= 0 for i in ints
    ):
        return tuple(sorted(float(c) for c in counts))  # fractional: never equals an int ratio
    g = math.gcd(*ints)
    return tuple(sorted(i // g for i in ints))


@lru_cache(maxsize=400_000)
def formula_ratio(formula: str) -> tuple:
    """Order-free atom ratio of a formula (sorted, divided by the gcd)."""
    return normalise_ratio([n for _, n in formula_amounts(formula)])


@lru_cache(maxsize=400_000)
def formula_elements(formula: str) -> frozenset[str]:
    return frozenset(el for el, _ in formula_amounts(formula))


def formula_units(formula: str | Composition) -> int:
    """Number of formula units Z: the gcd of the integer element counts."""
    comp = as_composition(formula)
    counts = [int(round(v)) for v in comp.values()]
    return math.gcd(*counts) if counts else 0


def atomic_numbers_for(formula: str | Composition, z: int = 1) -> np.ndarray:
    """Atomic numbers (sorted by element) for ``z`` copies of the *reduced* formula."""
    comp = as_composition(formula)
    reduced, _ = comp.get_reduced_composition_and_factor()
    check_cell_size(reduced.formula.replace(" ", ""), int(round(reduced.num_atoms)), z)
    numbers: list[int] = []
    for el, amount in sorted(reduced.items(), key=lambda kv: kv[0].Z):
        count = int(round(amount))
        if abs(amount - count) > 1e-6:
            raise FormulaError(f"{comp.formula!r} has fractional occupancy {el}{amount}")
        numbers.extend([el.Z] * count * z)
    return np.array(numbers, dtype=np.int64)


def composition_from_numbers(atomic_numbers: np.ndarray) -> Composition:
    counts: dict[str, int] = {}
    for z in np.asarray(atomic_numbers).tolist():
        sym = Element.from_Z(int(z)).symbol
        counts[sym] = counts.get(sym, 0) + 1
    return Composition(counts)


def oxidation_state_guesses(formula: str | Composition, max_sites: int | None = None) -> list[dict]:
    """pymatgen's ranked oxidation-state assignments (empty list: none is charge balanced)."""
    return list(as_composition(formula).oxi_state_guesses(max_sites=max_sites))


#: Largest number of oxidation-state combinations CDVAE enumerates before declaring a
#: composition invalid (``smact_validity``'s ``oxn > 1e7`` cap).
SMACT_MAX_COMBINATIONS = 10_000_000
_CHUNK = 1 << 17


def cdvae_pauling_test(ox_states: tuple[int, ...], electronegs: list[float | None]) -> bool:
    """The electronegativity test exactly as CDVAE ran it (SMACT 2.x ``eneg_states_test``).

    For every pair of sites: a cation must be less electronegative than an anion. SMACT 2.x
    compared the electronegativities before checking for missing values, so a cation-anion
    pair with a missing electronegativity raised ``TypeError``, which CDVAE's
    ``smact_validity`` counts as *passing*; a missing value in any other pair fails. (SMACT 4's
    ``pauling_test`` returns False for every missing value instead.)
    """
    for (ox1, e1), (ox2, e2) in itertools.combinations(zip(ox_states, electronegs, strict=True), 2):
        if (ox1 > 0 and ox2 < 0) or (ox1 < 0 and ox2 > 0):
            if e1 is None or e2 is None:
                return True
            if (ox1 > 0 and e1 >= e2) or (ox1 < 0 and e1 <= e2):
                return False
        elif e1 is None or e2 is None:
            return False
    return True


def _combinations(ox_lists: list[np.ndarray], start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``itertools.product(*ox_lists)`` as an int array [rows,
    n_elements]."""
    rem = np.arange(start, stop, dtype=np.int64)
    out = np.empty((stop - start, len(ox_lists)), dtype=np.int64)
    for j in range(len(ox_lists) - 1, -1, -1):  # the last element varies fastest, as in product
        radix = len(ox_lists[j])
        out[:, j] = ox_lists[j][rem % radix]
        rem //= radix
    return out


def _pauling_vectorized(ox: np.ndarray, electronegs: list[float]) -> np.ndarray:
    """``cdvae_pauling_test`` for many oxidation-state rows at once (no missing values)."""
    ok = np.ones(ox.shape[0], dtype=bool)
    for i, j in itertools.combinations(range(ox.shape[1]), 2):
        ei, ej = electronegs[i], electronegs[j]
        if ei >= ej:  # cation i with anion j fails
            ok &= ~((ox[:, i] > 0) & (ox[:, j] < 0))
        if ei <= ej:  # anion i with cation j fails
            ok &= ~((ox[:, i] < 0) & (ox[:, j] > 0))
    return ok


@lru_cache(maxsize=200_000)
def _smact_valid_cached(symbols: tuple[str, ...], counts: tuple[int, ...]) -> bool:
    """CDVAE's ``smact_validity(use_pauling_test=True, include_alloys=True)``.

    Same decision as CDVAE's loop over ``itertools.product`` of oxidation states (charge
    balance of the gcd-reduced counts, then :func:`cdvae_pauling_test`), evaluated in numpy
    chunks (the 1e7-combination worst case takes ~2 s instead of ~16 s in a Python loop).
    Oxidation states are SMACT's ``smact14`` list: the default of the SMACT 2.x releases
    CDVAE/DiffCSP used (SMACT 4 changed ``Element.oxidation_states`` to the ICSD-24 list).
    """
    if len(set(symbols)) == 1:
        return True
    if all(s in smact.metals for s in symbols):  # alloys count as valid (CDVAE include_alloys)
        return True
    try:
        elements = [smact.Element(s) for s in symbols]
    except KeyError:  # an element SMACT has no data for (Z > 103)
        return False
    electronegs = [e.pauling_eneg for e in elements]
    ox_lists = [np.asarray(e.oxidation_states_smact14 or [], dtype=np.int64) for e in elements]
    n_comb = math.prod(len(ox) for ox in ox_lists)
    if n_comb > SMACT_MAX_COMBINATIONS or n_comb == 0:
        return False
    count_vec = np.asarray(counts, dtype=np.int64)
    missing_eneg = any(e is None for e in electronegs)
    for start in range(0, n_comb, _CHUNK):
        ox = _combinations(ox_lists, start, min(start + _CHUNK, n_comb))
        neutral = ox[ox @ count_vec == 0]
        if neutral.shape[0] == 0:
            continue
        if missing_eneg:
            if any(cdvae_pauling_test(tuple(row), electronegs) for row in neutral.tolist()):
                return True
        elif _pauling_vectorized(neutral, electronegs).any():  # type: ignore[arg-type]
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
