"""Property words of a request and what the search can do with each.

A property ("magnetic", "band gap > 2 eV", "for solar cells", "stable") becomes a
:class:`PropertyGoal` with one of three levels:

* ``R_lo`` — the structure level ranks by it: low formation energy / stability (the energy GNN);
* ``R_hi`` — the formula level ranks by it, offline: magnetic (an ion with unpaired d or f
  electrons in the formula's most likely charge-neutral oxidation states), non-magnetic (none);
* ``none`` — no shipped model predicts it (band gaps, conductivity, ...): the request keeps it and
  every printout says plainly that it cannot be done offline, so nothing is silently dropped.

:data:`PROPERTY_PHRASES` holds the words (for the lexicon); :func:`extract_band_gaps` reads numeric
band-gap conditions ("band gap > 2 eV", "a gap between 1 and 1.5 eV") before tokenising.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genms.language.elements import unpaired_electrons

R_LO, R_HI, NONE = "R_lo", "R_hi", "none"


@dataclass(frozen=True)
class PropertyGoal:
    name: str  # "magnetic", "band gap", "low formation energy", ...
    detail: str  # "band gap > 2 eV"
    level: str  # R_lo | R_hi | none
    words: str = ""  # the request's words

    def describe(self) -> str:
        if self.level == R_LO:
            return f"{self.detail} — ranks structures (R_lo: the energy model's formation energy)"
        if self.level == R_HI:
            how = _RHI_HOW.get(self.name)
            return f"{self.detail} — ranks formulae (R_hi{': ' + how if how else ''})"
        return f"{self.detail} — cannot do this offline ({_NONE_WHY.get(self.name, _DEFAULT_WHY)})"


_RHI_HOW = {
    "magnetic": "an ion with unpaired d or f electrons",
    "non-magnetic": "no ion with unpaired d or f electrons",
    "realistic": "how likely the oxidation states and the site fit are",
}
_DEFAULT_WHY = "no model for it ships; the request keeps it, but nothing is ranked by it"
_NONE_WHY = {
    "band gap": "no band-gap model ships; the condition is kept but nothing is ranked by it",
    "solar absorber": "needs a band gap of about 1.1-1.8 eV, and no band-gap model ships",
}

#: phrase -> (name, detail, level). Phrases are lower case with single spaces.
PROPERTY_PHRASES: dict[str, tuple[str, str, str]] = {
    **dict.fromkeys(
        [
            "magnetic",
            "ferromagnetic",
            "ferrimagnetic",
            "antiferromagnetic",
            "magnet",
            "magnetism",
            "paramagnetic",
            "magnetically ordered",
            "spintronic",
        ],
        ("magnetic", "magnetic", R_HI),
    ),
    **dict.fromkeys(
        ["nonmagnetic", "non magnetic", "diamagnetic"], ("non-magnetic", "non-magnetic", R_HI)
    ),
    **dict.fromkeys(["band gap", "bandgap", "gap"], ("band gap", "a band gap", NONE)),
    **dict.fromkeys(
        [
            "wide band gap",
            "wide gap",
            "wide bandgap",
            "large band gap",
            "large gap",
            "ultrawide band gap",
        ],
        ("band gap", "a wide band gap (> 3 eV)", NONE),
    ),
    **dict.fromkeys(
        ["narrow band gap", "small band gap", "narrow gap", "small gap", "narrow bandgap"],
        ("band gap", "a narrow band gap (< 1 eV)", NONE),
    ),
    **dict.fromkeys(
        ["semiconductor", "semiconducting"], ("band gap", "semiconducting (a band gap)", NONE)
    ),
    **dict.fromkeys(
        ["insulator", "insulating"], ("band gap", "insulating (a wide band gap)", NONE)
    ),
    **dict.fromkeys(
        [
            "solar cell",
            "solar cells",
            "solar",
            "photovoltaic",
            "photovoltaics",
            "solar absorber",
            "light absorber",
            "absorber",
        ],
        ("solar absorber", "for solar cells", NONE),
    ),
    **dict.fromkeys(
        ["transparent", "transparent conductor", "transparent conducting"],
        ("transparency", "transparent", NONE),
    ),
    **dict.fromkeys(
        ["thermoelectric", "thermoelectrics"], ("thermoelectric", "thermoelectric", NONE)
    ),
    **dict.fromkeys(
        ["superconductor", "superconducting", "superconductivity"],
        ("superconductivity", "superconducting", NONE),
    ),
    **dict.fromkeys(
        ["ferroelectric", "piezoelectric", "multiferroic", "pyroelectric", "dielectric"],
        ("polar order", "ferroelectric / piezoelectric / dielectric", NONE),
    ),
    **dict.fromkeys(["topological", "topological insulator"], ("topology", "topological", NONE)),
    **dict.fromkeys(
        ["catalyst", "catalytic", "photocatalyst", "photocatalytic", "electrocatalyst"],
        ("catalysis", "catalytic", NONE),
    ),
    **dict.fromkeys(
        ["luminescent", "phosphor", "scintillator", "light emitting", "emitter"],
        ("luminescence", "luminescent", NONE),
    ),
    **dict.fromkeys(
        ["hard", "superhard", "high hardness", "bulk modulus", "stiff", "elastic"],
        ("mechanical", "hard / stiff", NONE),
    ),
    **dict.fromkeys(
        [
            "ionic conductor",
            "ion conductor",
            "ionic conductivity",
            "solid electrolyte",
            "electrolyte",
            "superionic",
            "fast ion conductor",
            "li ion conductor",
        ],
        ("ionic conductivity", "an ionic conductor", NONE),
    ),
    **dict.fromkeys(
        ["cathode", "anode", "electrode", "battery", "batteries"],
        ("battery electrode", "a battery electrode", NONE),
    ),
    **dict.fromkeys(
        ["conductive", "conductor", "conducting", "high conductivity", "electrical conductivity"],
        ("conductivity", "electrically conducting", NONE),
    ),
    **dict.fromkeys(
        [
            "high mobility",
            "optical",
            "optoelectronic",
            "thermal conductivity",
            "low thermal conductivity",
        ],
        ("other property", "an electronic, optical or thermal property", NONE),
    ),
}

_NUMBER = r"(\d+(?:\.\d+)?)"
_BAND_GAP_RE = re.compile(
    r"\b(?:(?:an?\s+|the\s+)?(?:electronic\s+|optical\s+)?(?:band\s*-?\s*gap|gap)s?|e_?g)\s*(?:of\s+|is\s+|=\s*)?"
    r"(?P<op>>=|<=|≥|≤|>|<|=|~|between|from|above|below|over|under|greater\s+than|larger\s+than|more\s+than|"
    r"higher\s+than|less\s+than|smaller\s+than|lower\s+than|at\s+least|at\s+most|around|about|near|of|"
    r"close\s+to|approximately)?\s*"
    + _NUMBER
    + r"\s*(?:ev)?\s*(?:(?:-|–|to|and)\s*"
    + _NUMBER
    + r")?\s*ev\b",
    re.IGNORECASE,
)
_OPS = {
    ">=": "≥",
    "≥": "≥",
    "at least": "≥",
    "<=": "≤",
    "≤": "≤",
    "at most": "≤",
    ">": ">",
    "above": ">",
    "over": ">",
    "greater than": ">",
    "larger than": ">",
    "more than": ">",
    "higher than": ">",
    "<": "<",
    "below": "<",
    "under": "<",
    "less than": "<",
    "smaller than": "<",
    "lower than": "<",
}


def _band_gap_detail(m: re.Match) -> str:
    op = " ".join((m.group("op") or "").lower().split())
    x, y = m.group(2), m.group(3)
    if y is not None:
        return f"band gap {x}-{y} eV"
    if op in _OPS:
        return f"band gap {_OPS[op]} {x} eV"
    return f"band gap ≈ {x} eV"


def extract_band_gaps(text: str) -> tuple[str, list[PropertyGoal]]:
    """Numeric band-gap conditions replaced by ``__PROP_<i>__`` sentinels, and the goals."""
    goals: list[PropertyGoal] = []

    def sub(m: re.Match) -> str:
        goals.append(
            PropertyGoal("band gap", _band_gap_detail(m), NONE, " ".join(m.group(0).split()))
        )
        return f" __PROP_{len(goals) - 1}__ "

    return _BAND_GAP_RE.sub(sub, text), goals


def goal(phrase: str, words: str, negated: bool = False) -> PropertyGoal:
    """The goal of a lexicon phrase ("non-" / "without" in front of "magnetic" negates it)."""
    name, detail, level = PROPERTY_PHRASES[phrase]
    if negated and name == "magnetic":
        name, detail = "non-magnetic", "non-magnetic"
    elif negated and name == "non-magnetic":
        name, detail = "magnetic", "magnetic"
    elif negated:
        detail = f"not {detail}"
    return PropertyGoal(name, detail, level, words)


def magnetic_ions(ions) -> list[str]:
    """The ions (``Ion`` objects) with unpaired d or f electrons, as text ("Fe3+ (5 unpaired)")."""
    out = []
    for ion in ions:
        if ion.charge <= 0:
            continue
        n = unpaired_electrons(ion.element, ion.charge)
        if n:
            out.append(f"{ion} ({n} unpaired)")
    return out
