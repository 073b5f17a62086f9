"""Scanning request text into constraint mentions (the first half of request parsing).

:func:`scan` tokenises the text, matches the longest known phrase at each position
(:mod:`genms.language.lexicon`), and interprets the items with a little scope handling:

* operators set how the following elements/classes count: "with", "containing" (required),
  "no", "without", "excluding", "-free" (excluded), "only", "-only" (every element in a class);
* a list joined by "or" ("containing Mg or Zn") is one any-of group; joined by "and" or ","
  every element is required;
* "atom ratio 1:1:2" and prototype notation ("ABX3", "A2B2O7") give a ratio;
* "not in Materials Project", "not on ICSD", "not in this list: A, B" give novelty;
* a number before a count noun or a family ("5 formulae", "ten spinels") is a count.

Every mention keeps the words that produced it, so :mod:`genms.language.request` can name
them in error messages. Nothing here raises: conflicts are recorded in :attr:`Scan.conflicts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from genms.crystal.composition import FormulaError, FormulaLimitError, parse_formula
from genms.language.elements import AMBIGUOUS_SYMBOLS, ANION_PREFIXES, is_symbol
from genms.language.lexicon import COUNT_NOUNS, POSTFIX, Term, max_phrase_words, phrase_table

_TOKEN_RE = re.compile(
    r"__[A-Z]+(?:_[a-z]+)?__|\d+(?:\s*:\s*\d+)+|[A-Za-z0-9][A-Za-z0-9()'\-]*|[,;:.!?&]"
)
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
_MENTIONS = ("symbol", "element", "class", "class_all", "anion", "anion_group", "oxoanion")


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
    # scope state while scanning
    mode: str = "default"
    pending: list[tuple[str, str]] = field(default_factory=list)
    saw_or: bool = False

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
        )

    def flush(self) -> None:
        if self.saw_or and len(self.pending) > 1:
            group = tuple(sorted({s for s, _ in self.pending}))
            self.any_of.append((group, " or ".join(w for _, w in self.pending)))
        else:
            for sym, word in self.pending:
                self.required.setdefault(sym, word)
        self.pending = []
        self.saw_or = False

    def end_scope(self) -> None:
        self.flush()
        self.mode = "default"


def _db_key(db: str) -> str:
    db = "".join(db.lower().split())
    if db in ("materialsproject", "mp"):
        return "mp"
    return "icsd" if db == "icsd" else "known"


def _tokenize(text: str) -> list[str]:
    text = text.replace("\u2019", "'")
    text = _LIST_RE.sub(" __LIST__ ", text)
    text = _DB_NOVELTY_RE.sub(lambda m: f" __NOVEL_{_db_key(m.group('db'))}__ ", text)
    return _TOKEN_RE.findall(text)


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


def _special_item(tok: str, prev: Item | None) -> Item | None:
    """Sentinels, ratios, punctuation, element symbols, prototypes and formulae (case-sensitive)."""
    if tok.startswith("__"):
        return Item(
            "post" if tok.startswith("__POST") else "sentinel",
            tok.strip("_").split("_", 1)[-1],
            tok,
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
    tokens = _split_hyphens(_tokenize(text))
    table = phrase_table()
    longest = max_phrase_words()
    items: list[Item] = []
    i = 0
    while i < len(tokens):
        special = _special_item(tokens[i], items[-1] if items else None)
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
            if term is not None and term.kind in ("anion", "family", "oxoanion", "anion_group"):
                return [Item("anion", sym, tok), Item(term.kind, term.value, tok)]
    return None


def _mention(sc: Scan, item: Item, mode: str) -> None:
    kind, value, word = item.kind, item.value, item.text
    if mode in ("exclude", "list"):
        if kind in ("symbol", "element", "anion"):
            sc.excluded.setdefault(str(value), word)
        elif kind == "oxoanion":
            sc.excluded.setdefault(value[0], word)  # type: ignore[index]
        elif kind == "anion_group":
            for sym in value:  # type: ignore[union-attr]
                sc.excluded.setdefault(sym, word)
        else:
            sc.classes.append((str(value), "none", word))
        return
    if kind in ("symbol", "element"):
        sc.pending.append((str(value), word))
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


def _is_count(items: list[Item], i: int) -> bool:
    """A number counts formulae when a count noun or a family follows within a few items."""
    for item in items[i + 1 : i + 5]:
        if (item.kind == "noun" and item.value in COUNT_NOUNS) or item.kind in (
                "family", "anion", "oxoanion", "anion_group", "class_all"):
            return True
        if item.kind not in ("novelty", "objective", "stop", "class", "element", "symbol", "post"):
            return False
    return False


def _other(sc: Scan, items: list[Item], i: int) -> None:
    """Items that end an element list: families, ratios, novelty, numbers, unknown words."""
    item = items[i]
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
    elif item.kind == "number":
        if _is_count(items, i):
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
            _mention(sc, item, mode)
        elif item.kind == "formula":
            (sc.excluded_formulae if sc.mode in ("exclude", "list") else sc.similar).append(
                str(item.value)
            )
        elif item.kind == "operator":
            if item.value == "or":
                sc.saw_or = True
            elif item.value != "and":
                sc.flush()
                sc.mode = str(item.value)
        elif item.kind == "punct":
            if item.value in (";", ".", "!", "?"):
                sc.end_scope()
        elif item.kind != "stop":
            _other(sc, items, i)
        i += 1
    sc.end_scope()
    return sc
