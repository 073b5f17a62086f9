"""Scanning request text into constraint mentions (the first half of request parsing).

:func:`scan` tokenises the text, matches the longest known phrase at each position
(:mod:`genms.language.lexicon`), and interprets the items with a little scope handling:

* operators set how the following elements/classes count: "with", "containing" (required),
  "no", "without", "excluding", "-free" (excluded), "only", "-only" (every element in a class);
* a list joined by "or" ("containing Mg or Zn") is one any-of group; joined by "and" or ","
  every element is required;
* "atom ratio 1:1:2" and prototype notation ("ABX3", "A2B2O7") give a ratio;
* "not in Materials Project", "not on ICSD", "not in this list: A, B" give novelty;
* a number before a count noun or a family ("5 formulae", "ten spinels") is a count;
* preference words ("preferably", "ideally", "if possible") make what follows soft: it ranks
  formulae instead of filtering them, until a comma or "and" is followed by a new operator;
* site words ("B site", "A-site", "B cation", "on the X sites") are never element symbols: they
  attach the nearest element or class to that site of the family;
* oxidation words ("trivalent", "tetravalent") and ions ("Fe3+", "Cu(II)", "iron(III)") ask
  for an element or class in that oxidation state;
* property words ("magnetic", "band gap > 2 eV", "for solar cells") become property goals
  (:mod:`genms.language.properties`);
* "binary", "ternary", "with four elements" fix the number of distinct elements.

Text is read after Unicode NFKC normalisation, so "SrTiO₃" is SrTiO3 and "Fe³⁺" is Fe3+.
Every mention keeps the words that produced it, so :mod:`genms.language.request` can name
them in error messages. Nothing here raises: problems are recorded (``dangling``,
``no_elements``) for the request to report.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from genms.crystal.composition import FormulaError, FormulaLimitError, parse_formula
from genms.language.elements import (
    AMBIGUOUS_SYMBOLS,
    ANION_GROUP_WORDS,
    ANION_PREFIXES,
    REPLACING_PREFIXES,
    ROMAN,
    element_names,
    is_symbol,
)
from genms.language.lexicon import COUNT_NOUNS, POSTFIX, Term, max_phrase_words, phrase_table
from genms.language.properties import PropertyGoal, extract_band_gaps, goal

_TOKEN_RE = re.compile(
    r"__[A-Z]+(?:_[A-Za-z0-9]+)*__|\d+(?:\s*:\s*\d+)+|[A-Za-z0-9][A-Za-z0-9()'\-]*|[,;:.!?&]"
)
#: "B site", "A-site", "A and B sites", "B' site", "X anions", "B cation" (labels are capital
#: letters).
_SITE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?P<labels>[A-Z]'?(?:\s*(?:,|and|&|/|or)\s*[A-Z]'?){0,3})\s*-?\s*"
    r"(?P<what>[Ss]ites?|[Pp]ositions?|[Ss]ublattices?|[Cc]ations?|[Aa]nions?)\b")
#: Labels read as sites before "cation(s)" / "anion(s)" (element symbols such as O or K are not).
_CATION_LABELS = set("ABMRTXZQDEGJL")
#: "Fe3+", "O2-", "Cu+" (element symbol, optional charge, sign).
_ION_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z][a-z]?)(\d?)([+-])(?![A-Za-z0-9+-])")
#: Stock notation: "Fe(III)", "iron(II)", "Cu (I)".
_STOCK_RE = re.compile(r"\b([A-Z][a-z]?|[A-Za-z]{3,})\s*\(\s*(VIII|VII|VI|IV|V|III|II|I)\s*\)")
#: Prefixes of words that combine two anion groups ("chalcohalide").
_GROUP_PREFIXES = {
    "chalco": ANION_GROUP_WORDS["chalcogenide"],
    "pnicto": ANION_GROUP_WORDS["pnictide"],
}
_DB_NOVELTY_RE = re.compile(
    r"\b(?:that\s+(?:is|are)\s+)?not\s+(?:yet\s+)?(?:be\s+)?(?:in|on|listed\s+in|part\s+of|present\s+in|found\s+in|"
    r"reported\s+in|included\s+in|from|within)\s+(?:the\s+)?(?P<db>materials\s*project|mp|icsd|oqmd|aflow|"
    r"(?:any\s+|existing\s+|known\s+|public\s+)*(?:crystal\s+|materials?\s+|structure\s+)?databases?)"
    r"(?:\s+database)?\b",
    re.IGNORECASE,
)
_LIST_RE = re.compile(
    r"\b(?:that\s+(?:is|are)\s+)?not\s+(?:in|among|on|from|part\s+of)\s+(?:this|the\s+following|these|my|our|the)"
    r"\s+(?:list|set)(?:\s+of\s+(?:known\s+)?(?:formulae|formulas|compounds|materials))?\s*:?",
    re.IGNORECASE,
)
_PROTOTYPE_RE = re.compile(r"^(?:[A-Z]'?\d*){2,}$")
#: Letters read as site symbols in prototype notation; O S N F H P are read as elements.
_PLACEHOLDERS = set("ADEGJLMQRTXZBCY")
_NEVER_ELEMENTS = set("ADEGJLMQRTXZ")
_REAL_IN_PROTOTYPE = set("OSNFHP")
_MENTIONS = ("symbol", "element", "class", "class_all", "anion", "anion_group", "oxoanion", "ion")


@dataclass
class Item:
    kind: str  # a Term kind, or symbol/formula/prototype/ratio/punct/sentinel/post/word/number
    value: object
    text: str


@dataclass
class Scan:
    """Constraint mentions of one request; dict values / tuple tails are the source words."""

    families: list[tuple[str, str]] = field(default_factory=list)
    ratios: list[tuple[tuple[int, ...], str]] = field(default_factory=list)
    required: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    any_of: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    classes: list[tuple[str, str, str]] = field(default_factory=list)  # (class, mode, words)
    bare_metal: list[str] = field(default_factory=list)  # "metal" with no operator: resolved later
    novelty: list[str] = field(default_factory=list)
    excluded_formulae: list[str] = field(default_factory=list)
    similar: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    nouns: int = 0
    # soft constraints: they rank, they do not filter
    preferred: dict[str, str] = field(default_factory=dict)
    avoided: dict[str, str] = field(default_factory=dict)
    preferred_any_of: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    preferred_classes: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (class, any|none, words)
    # (charge, element or None, class or None, site label or None, words)
    oxidation: list[tuple[int, str | None, str | None, str | None, str]] = field(
        default_factory=list
    )
    # (site label, "element"|"class", value, words)
    sites: list[tuple[str, str, str, str]] = field(default_factory=list)
    properties: list[PropertyGoal] = field(default_factory=list)
    n_elements: list[tuple[int, str]] = field(default_factory=list)
    dangling: list[tuple[str, str]] = field(default_factory=list)  # (mode, "without unobtainium")
    no_elements: list[str] = field(default_factory=list)  # "no elements"
    soft_sites: list[str] = field(default_factory=list)  # site words in a preference (not used)
    # scope state while scanning
    mode: str = "default"
    pending: list[tuple[str, str, bool]] = field(default_factory=list)  # (symbol, words, soft)
    saw_or: bool = False
    soft: bool = False
    after_sep: bool = False
    scope_op: str = ""
    scope_mentions: int = 0
    pending_charge: tuple[int, str] | None = None
    active_site: tuple[tuple[str, ...], str] | None = None
    list_targets: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # mentions of the current list
    last_mention_at: int = -1

    def understood(self) -> bool:
        return bool(
            self.families
            or self.ratios
            or self.required
            or self.excluded
            or self.any_of
            or self.classes
            or self.bare_metal
            or self.similar
            or self.excluded_formulae
            or self.novelty
            or self.objectives
            or self.nouns
            or self.preferred
            or self.avoided
            or self.preferred_any_of
            or self.preferred_classes
            or self.oxidation
            or self.properties
            or self.n_elements
        )

    def flush(self) -> None:
        for soft in (False, True):
            pending = [(s, w) for s, w, sf in self.pending if sf == soft]
            if self.saw_or and len(pending) > 1:
                group = tuple(sorted({s for s, _ in pending}))
                (self.preferred_any_of if soft else self.any_of).append(
                    (group, " or ".join(w for _, w in pending))
                )
            else:
                for sym, word in pending:
                    (self.preferred if soft else self.required).setdefault(sym, word)
        self.pending = []
        self.saw_or = False
        self.list_targets = []

    def end_scope(self) -> None:
        self.flush()
        self.mode = "default"
        self.soft = False
        self.after_sep = False
        self.scope_op = ""
        self.scope_mentions = 0
        self.pending_charge = None
        self.active_site = None


def _db_key(db: str) -> str:
    db = "".join(db.lower().split())
    if db in ("materialsproject", "mp"):
        return "mp"
    return "icsd" if db == "icsd" else "known"


def normalise(text: str) -> str:
    """NFKC (subscripts, superscripts, full-width forms become ASCII), typographic quotes, primes
    and
    minus signs made plain."""
    text = unicodedata.normalize("NFKC", text)
    for a, b in (
        ("\u2019", "'"),
        ("\u2018", "'"),
        ("\u2032", "'"),
        ("\u2212", "-"),
        ("\u2013", "-"),
        ("\u2014", " - "),
    ):
        text = text.replace(a, b)
    return text


def _site_sub(m: re.Match) -> str:
    labels = re.findall(r"[A-Z]'?", m.group("labels"))
    what = m.group("what").lower()
    if what.startswith(("cation", "anion")) and not all(lab[0] in _CATION_LABELS for lab in labels):
        return m.group(0)  # "O anions", "K cations": elements, not sites
    keep = " " + what if what.startswith(("cation", "anion")) else ""  # "a trivalent B cation"
    return " __SITE_" + "_".join(lab.replace("'", "p") for lab in labels) + "__" + keep + " "


def _ion_sub(m: re.Match) -> str:
    sym, digits, sign = m.groups()
    if not is_symbol(sym):
        return m.group(0)
    charge = (int(digits) if digits else 1) * (1 if sign == "+" else -1)
    return f" __ION_{sym}_{'p' if charge > 0 else 'm'}{abs(charge)}__ "


def _stock_sub(m: re.Match) -> str:
    word, roman = m.groups()
    sym = word if is_symbol(word) else element_names().get(word.lower())
    if sym is None:
        return m.group(0)
    return f" __ION_{sym}_p{ROMAN[roman]}__ "


def _tokenize(text: str) -> tuple[list[str], list[PropertyGoal]]:
    """Tokens of ``text``, with sentinels for phrases read as a whole, and the band-gap goals."""
    text = normalise(text)
    text = _LIST_RE.sub(" __LIST__ ", text)
    text = _DB_NOVELTY_RE.sub(lambda m: f" __NOVEL_{_db_key(m.group('db'))}__ ", text)
    text, goals = extract_band_gaps(text)
    text = _SITE_RE.sub(_site_sub, text)
    text = _STOCK_RE.sub(_stock_sub, text)
    text = _ION_RE.sub(_ion_sub, text)
    return _TOKEN_RE.findall(text), goals


def _split_hyphens(tokens: list[str]) -> list[str]:
    """'lead-free' -> 'lead', <exclude marker>; 'half-Heusler' -> 'half', 'Heusler'."""
    table = phrase_table()
    out: list[str] = []
    for tok in tokens:
        core = tok.strip("-'")
        if tok.startswith("__") or "-" not in core:
            out.append(core or tok)
            continue
        parts = [p for p in core.split("-") if p]
        if " ".join(p.lower() for p in parts) in table:
            out.extend(parts)
        elif (
            len(parts) > 1 and parts[0].lower() == "non"
        ):  # "non-toxic": only the next word is negated
            out.extend(parts[1:] + ["__POST_exclude__"])
        elif len(parts) > 1 and parts[-1].lower() in POSTFIX:
            out.extend(parts[:-1] + [f"__POST_{POSTFIX[parts[-1].lower()]}__"])
        else:
            out.extend(parts)
    return out


def _as_formula(raw: str) -> str | None:
    """Reduced formula of a token that looks like one ('SrTiO3', 'NaCl'), else None."""
    if not any(c.isupper() for c in raw[1:]) and not any(c.isdigit() for c in raw):
        return None
    try:
        return parse_formula(raw).reduced_formula
    except FormulaLimitError:
        raise
    except FormulaError:
        return None


def _prototype(raw: str) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """'ABX3' -> ((1, 1, 3), ()); 'A2B2O7' -> ((2, 2, 7), ('O',)); None otherwise."""
    if not _PROTOTYPE_RE.match(raw) or not (set(re.findall(r"[A-Z]", raw)) & _NEVER_ELEMENTS):
        return None
    counts, real = [], []
    for letter, n in re.findall(r"([A-Z])'?(\d*)", raw):
        if letter not in _PLACEHOLDERS | _REAL_IN_PROTOTYPE:
            return None
        counts.append(int(n) if n else 1)
        if letter in _REAL_IN_PROTOTYPE:
            real.append(letter)
    return tuple(counts), tuple(real)


def _special_item(tok: str, prev: Item | None, goals: list[PropertyGoal]) -> Item | None:
    """Sentinels, ratios, punctuation, element symbols, prototypes and formulae (case-sensitive)."""
    if tok.startswith("__"):
        body = tok.strip("_")
        if body.startswith("SITE_"):
            labels = tuple(lab.replace("p", "'") for lab in body[5:].split("_"))
            return Item("site", labels, " and ".join(labels) + " site")
        if body.startswith("ION_"):
            sym, charge = body[4:].split("_")
            q = int(charge[1:]) * (1 if charge[0] == "p" else -1)
            text = f"{sym}{abs(q) if abs(q) != 1 else ''}{'+' if q > 0 else '-'}"
            return Item("ion", (sym, q), text)
        if body.startswith("PROP_"):
            g = goals[int(body[5:])]
            return Item("property_goal", g, g.words)
        return Item(
            "post" if tok.startswith("__POST") else "sentinel", body.split("_", 1)[-1], tok
        )
    if tok[0].isdigit() and ":" in tok:
        return Item("ratio", tuple(int(x) for x in tok.replace(" ", "").split(":")), tok)
    if tok in ",;:.!?":
        return Item("punct", tok, tok)
    if tok == "&":
        return Item("operator", "and", tok)
    after_operator = prev is not None and prev.kind in ("operator", "punct", "sentinel", "symbol")
    if is_symbol(tok) and (tok not in AMBIGUOUS_SYMBOLS or after_operator):
        return Item("symbol", tok, tok)
    proto = _prototype(tok)
    if proto is not None:
        return Item("prototype", proto, tok)
    formula = _as_formula(tok)
    return Item("formula", formula, tok) if formula is not None else None


def items_of(text: str) -> list[Item]:
    """Tokens -> items, matching the longest known phrase at each position."""
    raw, goals = _tokenize(text)
    tokens = _split_hyphens(raw)
    table = phrase_table()
    longest = max_phrase_words()
    items: list[Item] = []
    i = 0
    while i < len(tokens):
        special = _special_item(tokens[i], items[-1] if items else None, goals)
        if special is not None:
            items.append(special)
            i += 1
            continue
        for n in range(min(longest, len(tokens) - i), 0, -1):
            words = tokens[i : i + n]
            if n > 1 and any(w.startswith("__") or w in ",;:.!?&" for w in words):
                continue
            term: Term | None = table.get(" ".join(w.lower() for w in words))
            if term is not None:
                items.append(Item(term.kind, term.value, " ".join(words)))
                i += n
                break
        else:
            tok = tokens[i]
            if tok.isdigit():
                items.append(Item("number", int(tok), tok))
            else:
                items.extend(_prefixed(tok) or [Item("word", tok, tok)])
            i += 1
    return items


def _prefixed(tok: str) -> list[Item] | None:
    """'oxyfluoride' -> O + fluoride; 'thiospinel' -> S + spinel (mixed-anion words)."""
    table = phrase_table()
    low = tok.lower()
    for prefix, sym in ANION_PREFIXES.items():
        rest = low[len(prefix):]
        if low.startswith(prefix) and rest:
            term = table.get(rest) or table.get(rest.lstrip("-"))
            if term is None or term.kind not in ("anion", "family", "oxoanion", "anion_group"):
                continue
            if term.kind == "oxoanion" and prefix in REPLACING_PREFIXES:
                # "thiophosphate": the sulfur takes the place of the oxygen (PS4), none is needed
                return [Item("oxoanion", (term.value[0], sym), tok)]  # type: ignore[index]
            return [Item("anion", sym, tok), Item(term.kind, term.value, tok)]
    for prefix, group in _GROUP_PREFIXES.items():
        rest = low[len(prefix):]
        term = table.get(rest) if low.startswith(prefix) and rest else None
        if term is not None and term.kind in ("anion", "anion_group"):
            return [Item("anion_group", group, tok), Item(term.kind, term.value, tok)]
    return None


def _target(kind: str, value: object) -> list[tuple[str, str]]:
    """What a mention names: ("element", symbol) or ("class", name) pairs (sites and charges attach
    to them)."""
    if kind in ("symbol", "element", "anion"):
        return [("element", str(value))]
    if kind == "ion":
        return [("element", str(value[0]))]  # type: ignore[index]
    if kind == "oxoanion":
        return [("element", str(value[0]))]  # type: ignore[index]
    if kind in ("class", "class_all"):
        return [("class", str(value))]
    return []


def _soft_mention(sc: Scan, item: Item, mode: str) -> None:
    """A mention inside a preference: it ranks formulae (preferred, or avoided after "no")."""
    kind, value, word = item.kind, item.value, item.text
    avoid = mode in ("exclude", "list")
    if kind in ("symbol", "element", "anion", "ion"):
        sym = str(value[0]) if kind == "ion" else str(value)  # type: ignore[index]
        if avoid:
            sc.avoided.setdefault(sym, word)
        elif kind in ("symbol", "element", "ion"):
            sc.pending.append((sym, word, True))
        else:
            sc.preferred.setdefault(sym, word)
    elif kind == "oxoanion":
        for sym in (value[:1] if avoid else value):  # type: ignore[index]
            (sc.avoided if avoid else sc.preferred).setdefault(sym, word)
    elif kind == "anion_group":
        if avoid:
            for sym in value:  # type: ignore[union-attr]
                sc.avoided.setdefault(sym, word)
        else:
            sc.preferred_any_of.append((tuple(value), word))  # type: ignore[arg-type]
    else:
        sc.preferred_classes.append((str(value), "none" if avoid else "any", word))


def _mention(sc: Scan, item: Item, mode: str, index: int) -> None:
    kind, value, word = item.kind, item.value, item.text
    sc.scope_mentions += 1
    sc.after_sep = False
    charge, sc.pending_charge = sc.pending_charge, None
    if sc.soft:
        _soft_mention(sc, item, mode)
        _attach(sc, kind, value, word, index, None)
        return
    if kind == "ion" and mode not in ("exclude", "list"):
        sym, q = value  # type: ignore[misc]
        sc.pending.append((sym, word, False))
        sc.oxidation.append((q, sym, None, None, word))
        _attach(sc, kind, value, word, index, None)
        return
    if mode in ("exclude", "list"):
        if kind in ("symbol", "element", "anion"):
            sc.excluded.setdefault(str(value), word)
        elif kind == "ion":
            sc.excluded.setdefault(str(value[0]), word)  # type: ignore[index]
        elif kind == "oxoanion":
            sc.excluded.setdefault(value[0], word)  # type: ignore[index]
        elif kind == "anion_group":
            for sym in value:  # type: ignore[union-attr]
                sc.excluded.setdefault(sym, word)
        else:
            sc.classes.append((str(value), "none", word))
        return
    if kind in ("symbol", "element"):
        sc.pending.append((str(value), word, False))
    elif kind == "anion":
        sc.required.setdefault(str(value), word)
    elif kind == "oxoanion":
        for sym in value:  # type: ignore[union-attr]
            sc.required.setdefault(sym, word)
    elif kind == "anion_group":
        sc.any_of.append((tuple(value), word))  # type: ignore[arg-type]
    elif kind == "class_all" or mode == "only":
        sc.classes.append((str(value), "all", word))
    elif value == "metal" and mode == "default":
        sc.bare_metal.append(word)
    else:
        sc.classes.append((str(value), "any", word))
    _attach(sc, kind, value, word, index, charge)


def _attach(
    sc: Scan, kind: str, value: object, word: str, index: int, charge: tuple[int, str] | None
) -> None:
    """Record a mention for the site and charge words around it."""
    targets = _target(kind, value)
    if charge is not None:
        for what, v in targets:
            sc.oxidation.append(
                (
                    charge[0],
                    v if what == "element" else None,
                    v if what == "class" else None,
                    None,
                    f"{charge[1]} {word}",
                )
            )
    if sc.active_site is not None:
        labels, site_word = sc.active_site
        for lab in labels:
            for what, v in targets:
                if sc.soft:
                    sc.soft_sites.append(f"{word} ({site_word})")
                else:
                    sc.sites.append((lab, what, v, f"{word} ({site_word})"))
    sc.list_targets = (sc.list_targets if sc.saw_or else []) + [
        (what, v, word) for what, v in targets
    ]
    sc.last_mention_at = index


def _site(sc: Scan, items: list[Item], i: int) -> None:
    """A site word: it names the site of the mention just before ("Ti on the B site"), or of the
    mentions after it ("a B-site transition metal", "A site: Ba or Sr")."""
    item = items[i]
    labels: tuple[str, ...] = item.value  # type: ignore[assignment]
    between = items[sc.last_mention_at + 1 : i] if sc.last_mention_at >= 0 else None
    if between is not None and sc.list_targets and all(x.kind == "stop" for x in between):
        for lab in labels:
            for what, v, word in sc.list_targets:
                if sc.soft:
                    sc.soft_sites.append(f"{word} ({item.text})")
                else:
                    sc.sites.append((lab, what, v, f"{word} ({item.text})"))
        sc.last_mention_at = -1
        return
    sc.active_site = (labels, item.text)


def _generic(sc: Scan, items: list[Item], i: int) -> None:
    """"cation" / "ion" (a charge or a site may hang on it) and "element" ("no elements")."""
    item = items[i]
    if item.kind == "generic_element":
        if sc.mode in ("exclude", "list") and not sc.soft:
            sc.no_elements.append(f"{sc.scope_op} {item.text}".strip())
        return
    charge, sc.pending_charge = sc.pending_charge, None
    site = sc.active_site[0] if sc.active_site is not None else (None,)
    if (
        charge is not None
        and item.value == "cation"
        and not sc.soft
        and sc.mode not in ("exclude", "list")
    ):
        for lab in site:
            sc.oxidation.append((charge[0], None, None, lab, f"{charge[1]} {item.text}"))
        sc.scope_mentions += 1


def _is_count(items: list[Item], i: int) -> bool:
    """A number counts formulae when a count noun or a family follows within a few items."""
    for item in items[i + 1 : i + 5]:
        if (item.kind == "noun" and item.value in COUNT_NOUNS) or item.kind in (
                "family", "anion", "oxoanion", "anion_group", "class_all"):
            return True
        if item.kind not in (
            "novelty",
            "objective",
            "stop",
            "class",
            "element",
            "symbol",
            "post",
            "property",
            "oxidation",
        ):
            return False
    return False


def _n_elements_follow(items: list[Item], i: int) -> bool:
    """A number counts elements when "element(s)" follows ("with 4 elements")."""
    for item in items[i + 1 : i + 4]:
        if item.kind == "generic_element":
            return True
        if item.kind not in ("stop", "class", "post"):
            return False
    return False


def _other(sc: Scan, items: list[Item], i: int) -> None:
    """Items that end an element list: families, ratios, novelty, numbers, unknown words."""
    item = items[i]
    if (
        item.kind == "word"
        and sc.mode in ("exclude", "require", "only")
        and sc.scope_op
        and not sc.scope_mentions
    ):
        sc.dangling.append((("soft " if sc.soft else "") + sc.mode, f"{sc.scope_op} {item.text}"))
    negated = sc.mode == "exclude"
    if item.kind in ("property", "property_goal"):
        g = (
            item.value
            if item.kind == "property_goal"
            else goal(str(item.value), item.text, negated)
        )
        sc.properties.append(g)  # type: ignore[arg-type]
        if negated:
            return  # "non-magnetic, no lead": the exclusion goes on
    sc.end_scope()
    if item.kind == "family":
        sc.families.append((str(item.value), item.text))
    elif item.kind in ("ratio", "prototype"):
        ratio, real = (item.value, ()) if item.kind == "ratio" else item.value  # type: ignore[misc]
        sc.ratios.append((tuple(ratio), item.text))
        for sym in real:
            sc.required.setdefault(sym, item.text)
    elif item.kind == "sentinel":
        sc.novelty.append("user" if item.value == "LIST" else str(item.value).split("_")[-1])
        if item.value == "LIST":
            sc.mode = "list"
    elif item.kind == "novelty":
        sc.novelty.append(str(item.value))
    elif item.kind == "objective":
        sc.objectives.append(str(item.value))
    elif item.kind == "noun":
        sc.nouns += 1
    elif item.kind == "n_elements":
        sc.n_elements.append((int(item.value), item.text))  # type: ignore[arg-type]
    elif item.kind == "number":
        if _n_elements_follow(items, i):
            sc.n_elements.append((int(item.value), f"{item.text} elements"))  # type: ignore[arg-type]
        elif _is_count(items, i):
            sc.counts.append(int(item.value))  # type: ignore[arg-type]
        else:
            sc.ignored.append(item.text)
    elif item.kind in ("word", "post"):
        sc.ignored.append(item.text)


def scan(text: str) -> Scan:
    """Interpret the items of ``text`` into a :class:`Scan`."""
    items = items_of(text)
    sc = Scan()
    i = 0
    while i < len(items):
        item = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else None
        if item.kind in _MENTIONS:
            mode = sc.mode
            if nxt is not None and (
                nxt.kind == "post"
                or (
                    nxt.kind == "operator"
                    and nxt.value == "only"
                    and item.kind in ("class", "class_all")
                )
            ):
                mode = str(nxt.value)  # "lead-free", "metal-only", "metals only"
                i += 1
            _mention(sc, item, mode, i)
        elif (
            item.kind == "property"
            and nxt is not None
            and nxt.kind == "post"
            and nxt.value == "exclude"
        ):
            sc.properties.append(
                goal(str(item.value), f"non-{item.text}", negated=True)
            )  # "non-magnetic"
            i += 1
        elif item.kind == "formula":
            (sc.excluded_formulae if sc.mode in ("exclude", "list") else sc.similar).append(
                str(item.value)
            )
        elif item.kind == "site":
            _site(sc, items, i)
        elif item.kind == "oxidation":
            sc.pending_charge = (int(item.value), item.text)  # type: ignore[arg-type]
        elif item.kind in ("generic_element", "generic_ion"):
            _generic(sc, items, i)
        elif item.kind == "operator":
            _operator(sc, item)
        elif item.kind == "punct":
            if item.value in (";", ".", "!", "?"):
                sc.end_scope()
            elif item.value == ",":
                sc.after_sep = True
        elif item.kind != "stop":
            _other(sc, items, i)
        i += 1
    sc.end_scope()
    return sc


def _operator(sc: Scan, item: Item) -> None:
    if item.value == "or":
        sc.saw_or = True
        return
    if item.value == "and":
        # "Fe and Ba or Sr": "and" binds less than "or", so the list so far is complete
        sc.flush()
        sc.after_sep = True
        return
    if item.value == "prefer":
        sc.flush()
        sc.mode, sc.soft = "require", True
    else:
        if sc.soft and sc.after_sep and item.value in ("require", "exclude", "only"):
            sc.soft = False  # "preferably a sulfide, and without cobalt": the preference has ended
        sc.flush()
        sc.mode = str(item.value)
    sc.scope_op, sc.scope_mentions, sc.after_sep = item.text, 0, False
    sc.active_site = None
