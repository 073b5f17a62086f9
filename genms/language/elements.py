"""The chemical vocabulary of requests: element names, element classes and anion words.

Element names and class membership come from pymatgen's ``Element`` (so nothing about the
periodic table is typed in by hand) with two deliberate departures, both documented in
``docs/language.md``:

* "rare earth" means Sc, Y and La-Lu (the IUPAC definition); pymatgen's ``is_rare_earth``
  also counts the actinides.
* "metal" is pymatgen's ``is_metal`` (metalloids such as Si, Ge, Sb, Te are not metals).

Words that name compounds by their anion ("chloride", "oxynitride") or by an oxo-anion
("titanate", "silicate") are mapped to the elements they imply.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from functools import cache, lru_cache

from pymatgen.core import Element

MAX_Z = 103

#: British and alternative spellings pymatgen does not use.
_EXTRA_NAMES = {
    "aluminium": "Al",
    "caesium": "Cs",
    "sulphur": "S",
    "wolfram": "W",
}

#: "<anion word>" -> element it requires (binary-compound naming).
ANION_WORDS: dict[str, str] = {
    "oxide": "O",
    "sulfide": "S",
    "sulphide": "S",
    "selenide": "Se",
    "telluride": "Te",
    "fluoride": "F",
    "chloride": "Cl",
    "bromide": "Br",
    "iodide": "I",
    "nitride": "N",
    "phosphide": "P",
    "arsenide": "As",
    "antimonide": "Sb",
    "bismuthide": "Bi",
    "carbide": "C",
    "boride": "B",
    "silicide": "Si",
    "germanide": "Ge",
    "stannide": "Sn",
    "hydride": "H",
    "aluminide": "Al",
    "gallide": "Ga",
}

#: Prefixes of mixed-anion words ("oxyfluoride", "thiophosphate").
ANION_PREFIXES: dict[str, str] = {
    "oxy": "O",
    "oxo": "O",
    "thio": "S",
    "seleno": "Se",
    "telluro": "Te",
    "fluoro": "F",
    "chloro": "Cl",
}
#: Prefixes that *replace* the oxygen of an oxo-anion ("thiophosphate" = PS4, no oxygen needed);
#: the others ("fluorophosphate", "oxy...") add their anion to it.
REPLACING_PREFIXES = frozenset({"thio", "seleno", "telluro"})

#: Oxo-anion words -> (central element, anion element).
OXOANION_WORDS: dict[str, tuple[str, str]] = {
    "titanate": ("Ti", "O"),
    "zirconate": ("Zr", "O"),
    "hafnate": ("Hf", "O"),
    "niobate": ("Nb", "O"),
    "tantalate": ("Ta", "O"),
    "vanadate": ("V", "O"),
    "chromate": ("Cr", "O"),
    "molybdate": ("Mo", "O"),
    "tungstate": ("W", "O"),
    "manganate": ("Mn", "O"),
    "manganite": ("Mn", "O"),
    "ferrite": ("Fe", "O"),
    "ferrate": ("Fe", "O"),
    "cobaltate": ("Co", "O"),
    "cobaltite": ("Co", "O"),
    "nickelate": ("Ni", "O"),
    "cuprate": ("Cu", "O"),
    "ruthenate": ("Ru", "O"),
    "rhodate": ("Rh", "O"),
    "iridate": ("Ir", "O"),
    "aluminate": ("Al", "O"),
    "gallate": ("Ga", "O"),
    "indate": ("In", "O"),
    "silicate": ("Si", "O"),
    "germanate": ("Ge", "O"),
    "stannate": ("Sn", "O"),
    "plumbate": ("Pb", "O"),
    "antimonate": ("Sb", "O"),
    "bismuthate": ("Bi", "O"),
    "scandate": ("Sc", "O"),
    "phosphate": ("P", "O"),
    "arsenate": ("As", "O"),
    "borate": ("B", "O"),
    "carbonate": ("C", "O"),
    "sulfate": ("S", "O"),
    "sulphate": ("S", "O"),
    "selenate": ("Se", "O"),
    "tellurate": ("Te", "O"),
    "nitrate": ("N", "O"),
    "sulfite": ("S", "O"),
    "sulphite": ("S", "O"),
    "nitrite": ("N", "O"),
    "phosphite": ("P", "O"),
    "selenite": ("Se", "O"),
    "tellurite": ("Te", "O"),
    "arsenite": ("As", "O"),
    "chlorate": ("Cl", "O"),
    "perchlorate": ("Cl", "O"),
    "bromate": ("Br", "O"),
    "iodate": ("I", "O"),
    "periodate": ("I", "O"),
    "oxalate": ("C", "O"),
    "hydroxide": ("H", "O"),
    "cyanide": ("C", "N"),
    "carbodiimide": ("C", "N"),
    "amide": ("N", "H"),
    "imide": ("N", "H"),
    "borohydride": ("B", "H"),
}

#: Anion-group words -> the elements any one of which satisfies them.
ANION_GROUP_WORDS: dict[str, tuple[str, ...]] = {
    "chalcogenide": ("S", "Se", "Te"),
    "halide": ("F", "Cl", "Br", "I"),
    "pnictide": ("N", "P", "As", "Sb"),
}

#: Symbols that are also common English words: only read as elements right after an
#: operator word ("with In", "no As").
AMBIGUOUS_SYMBOLS = frozenset(
    {"I", "In", "As", "At", "Be", "He", "No", "Am", "Es", "Ho", "Os", "Pa", "Bi"}
)

_NOBLE_METALS = ("Ru", "Rh", "Pd", "Ag", "Os", "Ir", "Pt", "Au")
_TOXIC = ("Be", "As", "Cd", "Hg", "Tl", "Pb", "Po")


def _elements():
    return [el for el in Element if el.Z <= MAX_Z]


def _is_rare_earth(el) -> bool:
    return el.symbol in ("Sc", "Y") or (57 <= el.Z <= 71)


#: class name -> membership test on a pymatgen Element.
_CLASS_TESTS: dict[str, Callable] = {
    "metal": lambda el: bool(el.is_metal),
    "transition metal": lambda el: bool(el.is_transition_metal),
    "alkali metal": lambda el: bool(el.is_alkali),
    "alkaline earth metal": lambda el: bool(el.is_alkaline),
    "rare earth": _is_rare_earth,
    "lanthanide": lambda el: 57 <= el.Z <= 71,
    "actinide": lambda el: 89 <= el.Z <= 103,
    "post-transition metal": lambda el: bool(el.is_post_transition_metal),
    "noble metal": lambda el: el.symbol in _NOBLE_METALS,
    "metalloid": lambda el: bool(el.is_metalloid),
    "nonmetal": lambda el: not el.is_metal and not el.is_metalloid and not el.is_noble_gas,
    "halogen": lambda el: el.symbol in ("F", "Cl", "Br", "I"),
    "chalcogen": lambda el: el.symbol in ("O", "S", "Se", "Te"),
    "pnictogen": lambda el: el.symbol in ("N", "P", "As", "Sb", "Bi"),
    "noble gas": lambda el: bool(el.is_noble_gas),
    # Be, As, Cd, Hg, Tl, Pb and Po: the elements "non-toxic" and "toxic-free" requests exclude
    "toxic element": lambda el: el.symbol in _TOXIC,
    "radioactive element": lambda el: bool(el.is_radioactive),
}

#: phrases (singular, lower case, space separated) -> class name. Longest phrases win.
CLASS_PHRASES: dict[str, str] = {
    "metal": "metal",
    "transition metal": "transition metal",
    "alkali": "alkali metal",
    "alkali metal": "alkali metal",
    "alkaline earth": "alkaline earth metal",
    "alkaline earth metal": "alkaline earth metal",
    "alkaline-earth": "alkaline earth metal",
    "rare earth": "rare earth",
    "rare earth element": "rare earth",
    "rare earth metal": "rare earth",
    "lanthanide": "lanthanide",
    "lanthanoid": "lanthanide",
    "actinide": "actinide",
    "actinoid": "actinide",
    "post transition metal": "post-transition metal",
    "noble metal": "noble metal",
    "precious metal": "noble metal",
    "metalloid": "metalloid",
    "nonmetal": "nonmetal",
    "non metal": "nonmetal",
    "halogen": "halogen",
    "chalcogen": "chalcogen",
    "pnictogen": "pnictogen",
    "noble gas": "noble gas",
    "toxic": "toxic element",
    "toxic element": "toxic element",
    "toxic metal": "toxic element",
    "heavy metal": "toxic element",
    "radioactive": "radioactive element",
    "radioactive element": "radioactive element",
}

#: Words for oxidation states ("a trivalent metal", "tetravalent cation").
OXIDATION_WORDS: dict[str, int] = {
    "monovalent": 1, "univalent": 1, "divalent": 2, "bivalent": 2, "trivalent": 3, "tervalent": 3,
    "tetravalent": 4, "quadrivalent": 4, "pentavalent": 5, "hexavalent": 6, "heptavalent": 7,
}

#: Roman numerals of Stock notation ("iron(III)", "Fe(II)").
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8}


@cache
def known_oxidation_states(symbol: str) -> frozenset[int]:
    """Every oxidation state pymatgen lists for the element (ICSD-derived and common ones)."""
    el = Element(symbol)
    return frozenset(
        int(x)
        for x in (*el.oxidation_states, *el.common_oxidation_states, *el.icsd_oxidation_states)
    )


def unpaired_electrons(symbol: str, charge: int) -> int | None:
    """Unpaired d or f electrons of an ion in the high-spin limit (None for main-group ions).

    d count = group - charge for the transition metals; f count = Z - 54 - charge for the
    lanthanides and Z - 86 - charge for the actinides. Low-spin states are not considered.
    """
    el = Element(symbol)
    if 57 <= el.Z <= 71 or 89 <= el.Z <= 103:
        n, shell = el.Z - (54 if el.Z <= 71 else 86) - charge, 14
    elif el.is_transition_metal and 3 <= int(el.group) <= 12:
        n, shell = int(el.group) - charge, 10
    else:
        return None
    if not 0 <= n <= shell:
        return None
    half = shell // 2
    return n if n <= half else shell - n


def class_names() -> tuple[str, ...]:
    return tuple(_CLASS_TESTS)


@cache
def class_members(name: str) -> frozenset[str]:
    """Element symbols (Z <= 103) in the class ``name``."""
    if name not in _CLASS_TESTS:
        raise KeyError(f"unknown element class {name!r}; known: {', '.join(_CLASS_TESTS)}")
    test = _CLASS_TESTS[name]
    return frozenset(el.symbol for el in _elements() if test(el))


@lru_cache(maxsize=1)
def element_names() -> dict[str, str]:
    """lower-case element name -> symbol (pymatgen names plus British spellings)."""
    names = {el.long_name.lower(): el.symbol for el in _elements()}
    names.update(_EXTRA_NAMES)
    return names


@lru_cache(maxsize=1)
def element_symbols() -> frozenset[str]:
    return frozenset(el.symbol for el in _elements())


def is_symbol(text: str) -> bool:
    return text in element_symbols()


def all_in_class(symbols: Iterable[str], name: str) -> bool:
    members = class_members(name)
    return all(s in members for s in symbols)


def any_in_class(symbols: Iterable[str], name: str) -> bool:
    members = class_members(name)
    return any(s in members for s in symbols)


@cache
def electronegativity(symbol: str) -> float:
    """Pauling electronegativity (NaN where pymatgen has none, e.g. noble gases)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # noble gases have no Pauling electronegativity
        x = Element(symbol).X
    return float(x) if x == x else float("nan")
