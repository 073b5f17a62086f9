"""The words and phrases the request parser understands, as one phrase table.

Every phrase (lower case, words separated by single spaces) maps to a :class:`Term`:
its kind (``family``, ``class``, ``element``, ``anion``, ``oxoanion``, ``anion_group``,
``novelty``, ``objective``, ``property``, ``oxidation``, ``n_elements``, ``generic_element``,
``generic_ion``, ``operator``, ``noun``, ``number``, ``stop``) and a value. Plural
forms are added automatically. The parser matches the longest phrase first, so "double
perovskite" wins over "perovskite" and "transition metal" over "metal".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from genms.language.elements import (
    ANION_GROUP_WORDS,
    ANION_WORDS,
    CLASS_PHRASES,
    OXIDATION_WORDS,
    OXOANION_WORDS,
    element_names,
)
from genms.language.families import family_aliases
from genms.language.properties import PROPERTY_PHRASES


@dataclass(frozen=True)
class Term:
    kind: str
    value: object = None


#: operator phrase -> what it does to the words after it.
OPERATORS: dict[str, str] = {
    **dict.fromkeys(
        [
            "with",
            "containing",
            "contains",
            "contain",
            "including",
            "includes",
            "include",
            "having",
            "has",
            "have",
            "featuring",
            "plus",
            "using",
            "made of",
            "composed of",
            "consisting of",
            "built from",
            "incorporating",
            "comprising",
            "bearing",
        ],
        "require",
    ),
    **dict.fromkeys(
        [
            "no",
            "without",
            "not",
            "excluding",
            "exclude",
            "except",
            "except for",
            "lacking",
            "free of",
            "devoid of",
            "avoiding",
            "avoid",
            "non",
            "nor",
            "other than",
            "apart from",
            "but not",
        ],
        "exclude",
    ),
    **dict.fromkeys(["only", "purely", "exclusively", "entirely", "solely", "all", "just"], "only"),
    # preferences: what follows ranks formulae, it does not filter them
    **dict.fromkeys(
        [
            "preferably",
            "ideally",
            "if possible",
            "preferred",
            "prefer",
            "i prefer",
            "we prefer",
            "would prefer",
            "rather",
            "optionally",
            "where possible",
            "if you can",
            "better with",
            "ideally with",
            "with a preference for",
            "a preference for",
            "preference for",
            "favouring",
            "favoring",
            "nice to have",
        ],
        "prefer",
    ),
    **dict.fromkeys(["or", "either"], "or"),
    **dict.fromkeys(["and", "as well as", "&"], "and"),
    **dict.fromkeys(
        [
            "like",
            "similar to",
            "analogous to",
            "based on",
            "related to",
            "resembling",
            "such as",
            "akin to",
            "derived from",
        ],
        "similar",
    ),
}

#: postfix words of hyphenated forms ("lead-free", "Cl-based", "metal-only").
POSTFIX = {"free": "exclude", "based": "require", "containing": "require", "rich": "require",
           "bearing": "require", "doped": "require", "only": "only"}

NOVELTY: dict[str, str] = {
    **dict.fromkeys(["novel", "new", "hypothetical", "undiscovered", "unknown", "unreported",
                     "not yet known", "not known", "not yet discovered", "never reported",
                     "previously unknown", "not yet synthesized", "unseen", "unexplored"], "known"),
}

OBJECTIVES: dict[str, str] = {
    **dict.fromkeys(["stable", "thermodynamically stable", "stability", "low formation energy",
                     "low energy", "lowest energy", "low energy above hull", "low e hull",
                     "energetically favorable", "energetically favourable", "ground state",
                     "negative formation energy"], "low formation energy"),
    **dict.fromkeys(["realistic", "potentially realistic", "synthesizable", "synthesisable",
                     "plausible", "chemically sensible", "feasible", "reasonable"], "realistic"),
}

#: "a binary / ternary ... compound": the number of distinct elements.
N_ELEMENTS = {"unary": 1, "elemental": 1, "binary": 2, "ternary": 3, "quaternary": 4, "quinary": 5,
              "two element": 2, "three element": 3, "four element": 4, "five element": 5,
              "two component": 2, "three component": 3, "four component": 4}

NOUNS = ["material", "crystal", "compound", "solid", "structure", "phase", "formula", "formulae",
         "formulas", "composition", "candidate", "system", "crystal structure", "inorganic",
         "option", "suggestion", "example", "chemical formula", "chemistry", "substance", "family"]

#: Nouns that, after a number, make it a count ("5 formulae").
COUNT_NOUNS = {"material", "crystal", "compound", "formula", "formulae", "formulas", "candidate",
               "option", "suggestion", "example", "structure", "composition", "chemical formula"}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
                "a dozen": 12, "dozen": 12, "a hundred": 100}

STOPWORDS = frozenset("""
a an the some any of for to in on at by from that which who is are be being been was were it its
this these those me my i we us our you your please give find generate propose suggest list show
want need would like could can should may might will let make create design discover predict
name tell recommend return output provide produce what whose there here kind type sort class
possible possibly potentially also very more most less least than then so such as into within
about around per one's atom atomic ratio ratios stoichiometry stoichiometric proportion
composition ion top best good great interesting promising
maybe perhaps likely
""".split())

#: Common words that tell us nothing here but are worth reporting when ignored.
_ADJECTIVE_STOP = frozenset("""
crystalline bulk inorganic ionic chemical pure
""".split())


def _plural(word: str) -> list[str]:
    if word.endswith("y") and not word.endswith("ey"):
        return [word[:-1] + "ies"]
    if word.endswith(("s", "x", "ch", "sh")):
        return [word + "es"]
    return [word + "s"]


def _add(table: dict[str, Term], phrase: str, term: Term, plural: bool = True) -> None:
    phrase = (
        " ".join(phrase.lower().replace("-", " ").split())
        if " " in phrase or "-" in phrase
        else phrase.lower()
    )
    table.setdefault(phrase, term)
    if plural:
        last = phrase.split(" ")
        for p in _plural(last[-1]):
            table.setdefault(" ".join(last[:-1] + [p]), term)


@lru_cache(maxsize=1)
def phrase_table() -> dict[str, Term]:
    """Every phrase the parser knows (hyphens normalised to spaces)."""
    table: dict[str, Term] = {}
    for alias, fam in family_aliases().items():
        _add(table, alias, Term("family", fam))
    for phrase, cls in CLASS_PHRASES.items():
        _add(table, phrase, Term("class", cls))
    _add(table, "intermetallic", Term("class_all", "metal"))
    _add(table, "alloy", Term("class_all", "metal"))
    _add(table, "metallic", Term("class_all", "metal"), plural=False)
    _add(table, "all metal", Term("class_all", "metal"))
    for name, sym in element_names().items():
        _add(table, name, Term("element", sym), plural=False)
    for word, sym in ANION_WORDS.items():
        _add(table, word, Term("anion", sym))
    for word, pair in OXOANION_WORDS.items():
        _add(table, word, Term("oxoanion", pair))
    for word, group in ANION_GROUP_WORDS.items():
        _add(table, word, Term("anion_group", group))
    for phrase, op in OPERATORS.items():
        _add(table, phrase, Term("operator", op), plural=False)
    for phrase, value in NOVELTY.items():
        _add(table, phrase, Term("novelty", value), plural=False)
    for phrase, value in OBJECTIVES.items():
        _add(table, phrase, Term("objective", value), plural=False)
    for phrase in PROPERTY_PHRASES:
        _add(table, phrase, Term("property", phrase), plural=False)
    for word, charge in OXIDATION_WORDS.items():
        _add(table, word, Term("oxidation", charge), plural=False)
    for word, n in N_ELEMENTS.items():
        _add(table, word, Term("n_elements", n), plural=False)
    for word in ("element", "chemical element"):
        _add(table, word, Term("generic_element"))
    for word in ("cation", "ion"):
        _add(table, word, Term("generic_ion", "cation"))
    _add(table, "anion", Term("generic_ion", "anion"))
    for noun in NOUNS:
        _add(table, noun, Term("noun", noun))
    for word, n in NUMBER_WORDS.items():
        _add(table, word, Term("number", n), plural=False)
    for word in STOPWORDS | _ADJECTIVE_STOP:
        table.setdefault(word, Term("stop"))
    return table


@lru_cache(maxsize=1)
def max_phrase_words() -> int:
    return max(len(p.split(" ")) for p in phrase_table())
