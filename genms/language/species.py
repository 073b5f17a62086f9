"""Ions and data-mined ionic substitution probabilities.

:class:`SubstitutionModel` is the model of Hautier et al., "Data Mined Ionic Substitutions for
the Discovery of New Compounds" (Inorg. Chem. 50, 656, 2011) as shipped in pymatgen
(``pymatgen.analysis.structure_prediction.SubstitutionProbability``): the same lambda table and
the same formulae (``cond_prob(s1, s2) = exp(lambda(s1, s2)) / p(s2)``), held in a numpy matrix
so that the whole table loads in milliseconds instead of building 230 pymatgen ``Species``.

The table covers 230 ions; an ion missing from it (Te2-, P3-, H-, ...) is scored through the
table ion of the same charge and periodic group nearest in atomic number (or, failing that,
nearest in electronegativity) with a fixed discount, so tellurides and phosphides are not
silently impossible.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pymatgen.core.structure_prediction as sp
from pymatgen.core import Element

_ION_RE = re.compile(r"^([A-Z][a-z]?)(\d*)([+-]?)$")
#: Multiplier applied to probabilities obtained through a proxy ion.
PROXY_DISCOUNT = 0.5


class IonError(ValueError):
    """Text that is not an ion such as 'Sr2+', 'O2-', 'Cl-' or a bare element 'Co'."""


@dataclass(frozen=True, order=True)
class Ion:
    element: str
    charge: int

    @property
    def key(self) -> str:
        """pymatgen's string for the species ('Sr2+', 'Cl1-'); a neutral atom is its symbol."""
        if self.charge == 0:
            return self.element
        sign = "+" if self.charge > 0 else "-"
        return f"{self.element}{abs(self.charge)}{sign}"

    def __str__(self) -> str:
        if self.charge == 0:
            return self.element
        sign = "+" if self.charge > 0 else "-"
        mag = abs(self.charge)
        return f"{self.element}{mag if mag != 1 else ''}{sign}"


def parse_ion(text: str) -> Ion:
    """'Sr2+' -> Ion('Sr', 2); 'Cl-' -> Ion('Cl', -1); 'Co' -> Ion('Co', 0)."""
    m = _ION_RE.match(str(text).strip())
    if not m:
        raise IonError(f"{text!r} is not an ion (expected e.g. 'Sr2+', 'O2-', 'Cl-' or 'Co')")
    element, mag, sign = m.groups()
    if mag and not sign:
        raise IonError(f"{text!r} has a charge without a sign (write e.g. 'Sr2+')")
    charge = (int(mag) if mag else 1) * (-1 if sign == "-" else 1) if sign else 0
    return Ion(element, charge)


def _lambda_table_path() -> Path:
    return Path(sp.__file__).resolve().parent / "data" / "lambda.json"


class SubstitutionModel:
    """Conditional ion-substitution probabilities p(new replaces old) from pymatgen's table."""

    def __init__(self, alpha: float = -5.0) -> None:
        rows = json.loads(_lambda_table_path().read_text())
        rows = [r for r in rows if "D1+" not in (r[0], r[1])]
        keys = sorted({r[0] for r in rows} | {r[1] for r in rows})
        self.keys: tuple[str, ...] = tuple(keys)
        self.index = {k: i for i, k in enumerate(keys)}
        lam = np.full((len(keys), len(keys)), alpha, dtype=np.float64)
        for a, b, value in rows:
            i, j = self.index[a], self.index[b]
            lam[i, j] = lam[j, i] = float(value)
        self._v = np.exp(lam)
        self._px = self._v.sum(axis=1)
        self._z = float(self._v.sum())
        self.ions: tuple[Ion, ...] = tuple(parse_ion(k) for k in keys)
        self._by_element: dict[str, list[Ion]] = {}
        for ion in self.ions:
            self._by_element.setdefault(ion.element, []).append(ion)

    # -- lookups -------------------------------------------------------------------------
    def _resolve(self, ion: Ion) -> tuple[int, float] | None:
        """Table index for ``ion`` and a multiplier (1 for table ions, a discount for proxies)."""
        i = self.index.get(ion.key)
        if i is not None:
            return i, 1.0
        proxy = _proxy_key(ion, self.keys)
        if proxy is None:
            return None
        return self.index[proxy], PROXY_DISCOUNT

    def in_table(self, ion: Ion) -> bool:
        return ion.key in self.index

    def cond_prob(self, new: Ion, old: Ion) -> float:
        """p(``new`` substitutes for ``old``), Hautier's conditional probability."""
        a, b = self._resolve(new), self._resolve(old)
        if a is None or b is None:
            return float(math.exp(-5.0) / np.median(self._px))
        (i, wi), (j, wj) = a, b
        return float(self._v[i, j] / self._px[j] * wi * wj)

    def prior(self, ion: Ion) -> float:
        """Marginal weight p(ion) = sum_j exp(lambda(ion, j)) / Z (how 'common' an ion is)."""
        r = self._resolve(ion)
        if r is None:
            return float(math.exp(-5.0) * len(self.keys) / self._z)
        i, w = r
        return float(self._px[i] / self._z * w)

    def element_similarity(self, new: str, old: str) -> float:
        """Largest conditional probability over the table ions of two elements (metallic sites)."""
        best = 0.0
        for a in self._by_element.get(new, [Ion(new, 0)]):
            for b in self._by_element.get(old, [Ion(old, 0)]):
                best = max(best, self.cond_prob(a, b))
        return best

    def element_prior(self, element: str) -> float:
        return max(
            (self.prior(i) for i in self._by_element.get(element, [])),
            default=self.prior(Ion(element, 0)),
        )

    def ions_of(self, element: str) -> list[Ion]:
        """Table ions of ``element`` (most common first)."""
        return sorted(self._by_element.get(element, []), key=lambda i: -self.prior(i))

    def cations(self) -> list[Ion]:
        return [i for i in self.ions if i.charge > 0]


@cache
def _group_and_x(element: str) -> tuple[int, int, float]:
    el = Element(element)
    x = el.X
    return int(el.group), int(el.Z), float(x) if x == x else 0.0


@cache
def _proxy_key(ion: Ion, keys: tuple[str, ...]) -> str | None:
    """Same-charge table ion of the same group nearest in Z, else nearest in electronegativity."""
    try:
        group, z, x = _group_and_x(ion.element)
    except (ValueError, KeyError):
        return None
    same_charge = [parse_ion(k) for k in keys]
    same_charge = [i for i in same_charge if i.charge == ion.charge and i.element != ion.element]
    if not same_charge:
        return None
    same_group = [i for i in same_charge if _group_and_x(i.element)[0] == group]
    if same_group:
        best = min(same_group, key=lambda i: abs(_group_and_x(i.element)[1] - z))
    else:
        best = min(same_charge, key=lambda i: abs(_group_and_x(i.element)[2] - x))
    return best.key


@lru_cache(maxsize=1)
def get_model() -> SubstitutionModel:
    """The shared substitution model (loaded once per process)."""
    return SubstitutionModel()


#: Elements never placed on a cation site (their positive states only occur inside oxo-anions).
NO_CATION = frozenset(
    {"H", "C", "N", "O", "F", "S", "Se", "Cl", "Br", "I", "He", "Ne", "Ar", "Kr", "Xe", "Rn"}
)
#: Elements that may take an anion site, with pymatgen's common negative oxidation states.
ANION_ELEMENTS = (
    "O",
    "S",
    "Se",
    "Te",
    "F",
    "Cl",
    "Br",
    "I",
    "N",
    "P",
    "As",
    "Sb",
    "H",
    "C",
    "Si",
    "Ge",
)


@cache
def _common_states(element: str) -> tuple[int, ...]:
    return tuple(int(s) for s in Element(element).common_oxidation_states)


def ions_for_element(model: SubstitutionModel, element: str, role: str) -> list[Ion]:
    """Candidate ions of ``element`` for a site role: table ions of the right sign, else
    pymatgen's common oxidation states; for ``metal`` sites the neutral atom."""
    if role == "metal":
        return [Ion(element, 0)]
    if role == "cation":
        if element in NO_CATION:
            return []
        ions = [i for i in model.ions_of(element) if i.charge > 0]
        return ions or [Ion(element, s) for s in _common_states(element) if s > 0]
    ions = [i for i in model.ions_of(element) if i.charge < 0]
    negative = [s for s in _common_states(element) if s < 0]
    return ions or ([Ion(element, min(negative))] if negative else [])


@lru_cache(maxsize=4)
def _universe(role: str) -> tuple[Ion, ...]:
    model = get_model()
    if role == "anion":
        return tuple(i for el in ANION_ELEMENTS for i in ions_for_element(model, el, "anion"))
    if role == "cation":
        return tuple(i for i in model.ions if i.charge > 0 and i.element not in NO_CATION)
    elements = sorted(
        {i.element for i in model.ions} - NO_CATION - {"P"} | {"Si", "Ge", "As", "Sb", "B", "P"}
    )
    return tuple(Ion(e, 0) for e in elements)


def ion_universe(role: str) -> tuple[Ion, ...]:
    """Every ion a site of this role may hold (``cation``, ``anion`` or ``metal``)."""
    if role not in ("cation", "anion", "metal"):
        raise ValueError(f"site role {role!r}: use cation, anion or metal")
    return _universe(role)
