"""Request understanding: free text -> a structured, printable :class:`Request`.

``parse_request("a novel chloride perovskite with no lead")`` gives family ``perovskite``,
required ``Cl``, excluded ``Pb`` and novelty ``known``. :mod:`genms.language.request_scan`
turns the text into constraint mentions; this module resolves them (a bare "metal" means
"only metals" unless something non-metallic is asked for), checks them against each other
and the family knowledge base, and builds the frozen :class:`Request`.

Besides the hard constraints, a request holds soft ones (preferences: they rank formulae, they
never filter them), oxidation-state and site constraints, the number of distinct elements, and
property goals, each with what the search can do with it (:mod:`genms.language.properties`).

Contradictions ("an oxide with no oxygen", "a metal-only perovskite", "a perovskite with atom
ratio 1:2:4") and constraints that cannot be read ("without unobtainium", "with no elements")
raise :class:`RequestError` with a message naming the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from genms.crystal.composition import MAX_FORMULA_ATOMS, FormulaLimitError, normalise_ratio
from genms.language.elements import class_members, known_oxidation_states
from genms.language.families import FAMILIES, UnknownFamilyError, get_family
from genms.language.properties import NONE, R_HI, R_LO, PropertyGoal
from genms.language.request_scan import Scan, scan

MAX_COUNT = 1000


class RequestError(ValueError):
    """The request is empty, not understood, or contradicts itself (the message says how)."""


@dataclass(frozen=True)
class ClassConstraint:
    name: str  # an element class of genms.language.elements ("metal", "rare earth", ...)
    mode: str  # "any": at least one element; "all": every element; "none": no element

    def __str__(self) -> str:
        return {"any": f"at least one {self.name}", "all": f"only {self.name}s",
                "none": f"no {self.name}"}[self.mode]

    def satisfied_by(self, elements) -> bool:
        members = class_members(self.name)
        inside = [e in members for e in elements]
        if self.mode == "any":
            return any(inside)
        if self.mode == "all":
            return bool(inside) and all(inside)
        return not any(inside)


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


@dataclass(frozen=True)
class OxidationConstraint:
    """At least one ion in oxidation state ``charge`` that is ``element`` (or a member of ``cls``,
    or any ion) and, with ``site``, sits on that site of the family."""

    charge: int
    element: str | None = None
    cls: str | None = None
    site: str | None = None

    def __str__(self) -> str:
        who = self.element or (_a(self.cls) if self.cls else "an ion")
        where = f" on site {self.site}" if self.site else ""
        return f"{who} in oxidation state {self.charge:+d}{where}"

    def satisfied_by(self, ions: Sequence, labels: Sequence[str] | None = None) -> bool:
        members = class_members(self.cls) if self.cls else None
        for k, ion in enumerate(ions):
            if ion.charge != self.charge or (self.element and ion.element != self.element):
                continue
            if members is not None and ion.element not in members:
                continue
            if self.site and (labels is None or labels[k] != self.site):
                continue
            return True
        return False


@dataclass(frozen=True)
class SiteConstraint:
    """The element on site ``label`` of the family is one of ``options`` (("element", "Ti") or
    ("class", "transition metal"))."""

    label: str
    options: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        names = [v if kind == "element" else _a(v) for kind, v in self.options]
        return f"site {self.label}: {' or '.join(names)}"

    def satisfied_by(self, element: str) -> bool:
        return any(
            element == v if kind == "element" else element in class_members(v)
            for kind, v in self.options
        )


@dataclass(frozen=True)
class Request:
    """A parsed request. Element symbols are sorted; formulae are reduced formulae."""

    text: str
    family: str | None = None
    ratio: tuple[int, ...] | None = None
    required_elements: tuple[str, ...] = ()
    excluded_elements: tuple[str, ...] = ()
    any_of_elements: tuple[tuple[str, ...], ...] = ()
    element_classes: tuple[ClassConstraint, ...] = ()
    novelty: tuple[str, ...] = ()  # "known" (any known database), "mp", "icsd", "user"
    excluded_formulae: tuple[str, ...] = ()
    similar_to: tuple[str, ...] = ()
    count: int | None = None
    objectives: tuple[str, ...] = ()
    ignored_words: tuple[str, ...] = ()
    n_elements: int | None = None  # distinct elements ("ternary", "with 4 elements")
    preferred_elements: tuple[str, ...] = ()  # soft: rank, do not filter
    avoided_elements: tuple[str, ...] = ()
    preferred_any_of: tuple[tuple[str, ...], ...] = ()
    preferred_classes: tuple[ClassConstraint, ...] = ()
    oxidation: tuple[OxidationConstraint, ...] = ()
    sites: tuple[SiteConstraint, ...] = ()
    properties: tuple[PropertyGoal, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def wants_novel(self) -> bool:
        """Any novelty asked for (against databases or a user's list)."""
        return bool(self.novelty or self.excluded_formulae)

    @property
    def novel_vs_databases(self) -> bool:
        """Novelty against known databases ("novel", "not in Materials Project", "not on ICSD")."""
        return any(n in ("known", "mp", "icsd") for n in self.novelty)

    @property
    def ratios(self) -> tuple[tuple[int, ...], ...]:
        """Allowed atom ratios: the explicit ratio, else the family's, else none."""
        if self.ratio:
            return (self.ratio,)
        if self.family:
            return get_family(self.family).ratios
        return ()

    @property
    def has_element_constraints(self) -> bool:
        return bool(
            self.required_elements
            or self.excluded_elements
            or self.any_of_elements
            or self.element_classes
            or self.oxidation
            or self.sites
            or self.n_elements
        )

    @property
    def has_preferences(self) -> bool:
        return bool(self.preferred_elements or self.avoided_elements or self.preferred_any_of
                    or self.preferred_classes)

    def preference_tests(self) -> list[tuple[str, object]]:
        """Every soft wish as (description, test on a set of element symbols)."""
        tests: list[tuple[str, object]] = []
        for el in self.preferred_elements:
            tests.append((f"has {el}", lambda els, el=el: el in els))
        for el in self.avoided_elements:
            tests.append((f"no {el}", lambda els, el=el: el not in els))
        for group in self.preferred_any_of:
            tests.append((f"has one of {'/'.join(group)}", lambda els, g=set(group): bool(els & g)))
        for c in self.preferred_classes:
            tests.append((str(c), lambda els, c=c: c.satisfied_by(els)))
        return tests

    def property_goals(self, level: str | None = None) -> tuple[PropertyGoal, ...]:
        """The property goals (objectives included), or those of one level (R_lo, R_hi, none)."""
        goals = tuple(
            _OBJECTIVE_GOALS.get(o, PropertyGoal(o, o, NONE, o)) for o in self.objectives
        ) + self.properties
        return tuple(g for g in goals if level is None or g.level == level)

    def unsupported(self) -> tuple[PropertyGoal, ...]:
        """Goals no shipped model can rank ("cannot do this offline")."""
        return self.property_goals(NONE)

    def constraint_lines(self) -> list[str]:
        """One human-readable line per constraint (used in prompts and printouts)."""
        lines = []
        if self.family:
            fam = get_family(self.family)
            lines.append(f"crystal family: {fam.name} (atom ratio {fam.ratio_text()})")
        if self.ratio:
            lines.append(f"atom ratio: {':'.join(map(str, self.ratio))}")
        if self.required_elements:
            lines.append(f"must contain: {', '.join(self.required_elements)}")
        for group in self.any_of_elements:
            lines.append(f"must contain at least one of: {', '.join(group)}")
        if self.excluded_elements:
            lines.append(f"must not contain: {', '.join(self.excluded_elements)}")
        for c in self.element_classes:
            lines.append(f"elements: {c}")
        if self.novelty:
            names = {
                "known": "any known database",
                "mp": "the Materials Project",
                "icsd": "the ICSD",
                "user": "the user's list",
            }
            lines.append("must not be in " + ", ".join(names[n] for n in self.novelty))
        if self.excluded_formulae:
            lines.append(f"must not be any of: {', '.join(self.excluded_formulae)}")
        if self.similar_to:
            lines.append(f"similar to: {', '.join(self.similar_to)}")
        if self.n_elements:
            lines.append(f"distinct elements: exactly {self.n_elements}")
        for o in self.oxidation:
            lines.append(f"oxidation state: {o}")
        for site in self.sites:
            lines.append(str(site))
        wishes = [d for d, _ in self.preference_tests()]
        if wishes:
            lines.append(f"preferred (ranks formulae, does not filter them): {'; '.join(wishes)}")
        return lines

    def describe(self) -> str:
        lines = [f"request: {self.text!r}"] + [f"  {line}" for line in self.constraint_lines()]
        for g in self.property_goals():
            lines.append(f"  property: {g.describe()}")
        if self.count is not None:
            lines.append(f"  count: {self.count}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.ignored_words:
            lines.append(f"  ignored words: {', '.join(self.ignored_words)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["element_classes"] = [{"name": c.name, "mode": c.mode} for c in self.element_classes]
        d["preferred_classes"] = [{"name": c.name, "mode": c.mode} for c in self.preferred_classes]
        d["properties"] = [{**asdict(g), "what": g.describe()} for g in self.property_goals()]
        return d


_OBJECTIVE_GOALS = {
    "low formation energy": PropertyGoal(
        "low formation energy", "low formation energy (stable)", R_LO
    ),
    "realistic": PropertyGoal("realistic", "realistic", R_HI),
}




def _family(sc: Scan) -> str | None:
    names = list(dict.fromkeys(f for f, _ in sc.families))
    if len(names) > 1:
        words = ", ".join(repr(w) for _, w in sc.families)
        raise RequestError(
            f"the request names {len(names)} crystal families ({words}); ask for one family at a "
            "time"
        )
    return names[0] if names else None


def _ratio(sc: Scan, family: str | None) -> tuple[int, ...] | None:
    if not sc.ratios:
        return None
    distinct = {normalise_ratio(r) for r, _ in sc.ratios}
    if len(distinct) > 1:
        words = " and ".join(repr(w) for _, w in sc.ratios)
        raise RequestError(f"the request gives two different atom ratios ({words}); give one")
    ratio, word = sc.ratios[0]
    if any(x <= 0 for x in ratio) or len(ratio) < 1:
        raise RequestError(f"atom ratio {word!r} must be positive integers such as 1:1:3")
    if sum(ratio) > MAX_FORMULA_ATOMS:
        raise RequestError(
            f"atom ratio {word!r} has {sum(ratio)} atoms; at most {MAX_FORMULA_ATOMS} atoms per "
            "formula are supported"
        )
    if len(ratio) > 8:
        raise RequestError(
            f"atom ratio {word!r} has {len(ratio)} parts; at most 8 elements are supported"
        )
    if family is not None:
        fam = get_family(family)
        if normalise_ratio(ratio) not in {normalise_ratio(r) for r in fam.ratios}:
            raise RequestError(
                f"a {fam.name} has atom ratio {fam.ratio_text()}, but the request asks for "
                f"{word!r}; drop the ratio or the family"
            )
    return tuple(ratio)


def _classes(sc: Scan, family: str | None) -> tuple[ClassConstraint, ...]:
    """Class constraints; a bare "metal" means "only metals" unless something non-metallic is asked
    for."""
    out = [(ClassConstraint(c, m), w) for c, m, w in sc.classes]
    if sc.bare_metal:
        members = class_members("metal")
        nonmetal_asked = (
            any(s not in members for s in sc.required)
            or any(all(s not in members for s in g) for g, _ in sc.any_of)
            or (family is not None and get_family(family).has_anion_site)
        )
        out.append((ClassConstraint("metal", "any" if nonmetal_asked else "all"), sc.bare_metal[0]))
    seen: dict[ClassConstraint, str] = {}
    for c, w in out:
        seen.setdefault(c, w)
    return tuple(seen.items())  # type: ignore[return-value]


def _check_elements(sc: Scan, classes, family: str | None) -> None:
    both = sorted(set(sc.required) & set(sc.excluded))
    if both:
        s = both[0]
        raise RequestError(
            f"the request both requires {s} (from {sc.required[s]!r}) and excludes it (from "
            f"{sc.excluded[s]!r}); remove one of the two"
        )
    for group, word in sc.any_of:
        if set(group) <= set(sc.excluded):
            raise RequestError(
                f"{word!r} asks for one of {', '.join(group)}, but the request excludes all of them"
            )
    for c, word in classes:
        members = class_members(c.name)
        if c.mode == "none":
            bad = [s for s in sc.required if s in members]
            if bad:
                raise RequestError(
                    f"{word!r} excludes every {c.name}, but {bad[0]} (from "
                    f"{sc.required[bad[0]]!r}) "
                    f"is a {c.name}"
                )
        elif c.mode == "all":
            bad = [s for s in sc.required if s not in members]
            if bad:
                raise RequestError(
                    f"{word!r} asks for {c.name}s only, but {bad[0]} (from "
                    f"{sc.required[bad[0]]!r}) "
                    f"is not a {c.name}"
                )
            for group, gword in sc.any_of:
                if not set(group) & members:
                    raise RequestError(
                        f"{word!r} asks for {c.name}s only, but {gword!r} needs one of "
                        f"{', '.join(group)}, none of which is a {c.name}"
                    )
            if family is not None and c.name == "metal" and get_family(family).has_anion_site:
                raise RequestError(
                    f"a {family} has an anion site, so it cannot be made of metals only (from "
                    f"{word!r}); drop one of the two"
                )
        elif members <= set(sc.excluded):
            raise RequestError(
                f"{word!r} asks for a {c.name}, but the request excludes every {c.name}"
            )
    for c, word in classes:
        for d, dword in classes:
            if c.name == d.name and {c.mode, d.mode} == {"any", "none"} or (
                    c.name == d.name and {c.mode, d.mode} == {"all", "none"}):
                raise RequestError(f"{word!r} and {dword!r} contradict each other; keep one")
            if c.mode == d.mode == "all" and not (class_members(c.name) & class_members(d.name)):
                raise RequestError(f"{word!r} and {dword!r} cannot both hold: no element is both")


def _check_sites(sc: Scan, family: str | None, ratio: tuple[int, ...] | None) -> None:
    needed = set(sc.required)
    groups = [set(g) for g, _ in sc.any_of if not set(g) & needed]
    n_needed = len(needed) + len(groups)
    if ratio is not None:
        n_sites, what = len(ratio), f"atom ratio {':'.join(map(str, ratio))}"
    elif family is not None:
        n_sites, what = max(len(p.sites) for p in get_family(family).prototypes), f"a {family}"
    else:
        return
    if n_needed > n_sites:
        asked = sorted(needed) + [" or ".join(sorted(g)) for g in groups]
        raise RequestError(
            f"{what} has {n_sites} distinct elements, but the request needs {n_needed}: "
            f"{', '.join(asked)}"
        )


def _count(sc: Scan) -> int | None:
    counts = list(dict.fromkeys(sc.counts))
    if len(counts) > 1:
        raise RequestError(f"the request gives two counts ({counts[0]} and {counts[1]}); give one")
    if not counts:
        return None
    if not 1 <= counts[0] <= MAX_COUNT:
        raise RequestError(
            f"a count of {counts[0]} formulae is out of range; ask for 1 to {MAX_COUNT}"
        )
    return counts[0]


def _labels(family: str) -> list[str]:
    return list(
        dict.fromkeys(site.label for p in get_family(family).prototypes for site in p.sites)
    )


def _sites(sc: Scan, family: str | None, notes: list[str]) -> tuple[SiteConstraint, ...]:
    """Site constraints grouped by label; site labels must be the family's."""
    labels_used = list(
        dict.fromkeys([lab for lab, *_ in sc.sites] + [o[3] for o in sc.oxidation if o[3]])
    )
    if not labels_used:
        return ()
    if family is None:
        words = ", ".join(dict.fromkeys(w for *_, w in sc.sites)) or "site"
        notes.append(
            f"site words need a crystal family to name the sites; the elements of {words} are "
            "constraints of the whole formula"
        )
        return ()
    known = _labels(family)
    for lab in labels_used:
        if lab not in known:
            raise RequestError(
                f"a {family} has sites {', '.join(known)}; the request names site {lab!r}"
            )
    by_label: dict[str, list[tuple[str, str]]] = {}
    for lab, kind, value, _ in sc.sites:
        by_label.setdefault(lab, [])
        if (kind, value) not in by_label[lab]:
            by_label[lab].append((kind, value))
    return tuple(SiteConstraint(lab, tuple(opts)) for lab, opts in by_label.items())


def _oxidation(sc: Scan, family: str | None) -> tuple[OxidationConstraint, ...]:
    out: list[OxidationConstraint] = []
    for charge, element, cls, site, words in sc.oxidation:
        if element is not None and charge not in known_oxidation_states(element):
            states = ", ".join(f"{q:+d}" for q in sorted(known_oxidation_states(element))) or "none"
            raise RequestError(
                f"{words!r}: {charge:+d} is not a known oxidation state of {element} "
                f"(known: {states})"
            )
        if family is None and site is not None:
            site = None
        c = OxidationConstraint(charge, element, cls, site)
        if c not in out:
            out.append(c)
    return tuple(out)


def _n_elements(sc: Scan, family: str | None, ratio: tuple[int, ...] | None) -> int | None:
    values = list(dict.fromkeys(n for n, _ in sc.n_elements))
    if not values:
        return None
    if len(values) > 1:
        words = " and ".join(repr(w) for _, w in sc.n_elements)
        raise RequestError(f"the request gives two numbers of elements ({words}); give one")
    n, word = values[0], sc.n_elements[0][1]
    if not 1 <= n <= 8:
        raise RequestError(f"{word!r}: {n} distinct elements is out of range; ask for 1 to 8")
    if ratio is not None and len(ratio) != n:
        raise RequestError(
            f"atom ratio {':'.join(map(str, ratio))} has {len(ratio)} elements, but the request "
            f"asks for {n} ({word!r})"
        )
    if family is not None:
        sizes = sorted({len(p.sites) for p in get_family(family).prototypes})
        if n not in sizes:
            raise RequestError(
                f"a {family} has {' or '.join(map(str, sizes))} distinct elements, but the request "
                f"asks for {n} ({word!r})"
            )
    if len(sc.required) > n:
        raise RequestError(
            f"{word!r} allows {n} elements, but the request requires {len(sc.required)}: "
            f"{', '.join(sorted(sc.required))}"
        )
    return n


def _preferences(sc: Scan, notes: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    clash = sorted(set(sc.preferred) & set(sc.excluded))
    if clash:
        s = clash[0]
        raise RequestError(f"the request prefers {s} (from {sc.preferred[s]!r}) but excludes it "
                           f"(from {sc.excluded[s]!r}); remove one of the two")
    clash = sorted(set(sc.avoided) & set(sc.required))
    if clash:
        s = clash[0]
        raise RequestError(
            f"the request requires {s} (from {sc.required[s]!r}) but would rather avoid it "
            f"(from {sc.avoided[s]!r}); remove one of the two"
        )
    if sc.soft_sites:
        notes.append(f"site words inside a preference are not used: {', '.join(sc.soft_sites)}")
    preferred = tuple(sorted(s for s in sc.preferred if s not in sc.required))
    avoided = tuple(sorted(s for s in sc.avoided if s not in sc.excluded))
    return preferred, avoided


def _unreadable(sc: Scan, notes: list[str]) -> None:
    """Constraints whose words could not be read must not vanish silently."""
    if sc.no_elements:
        raise RequestError(
            f"{sc.no_elements[0]!r} excludes every element, so nothing can be proposed; name the "
            "elements to leave out, e.g. 'without lead' or 'no Pb'"
        )
    for mode, words in sc.dangling:
        if mode == "exclude":
            raise RequestError(
                f"could not read {words!r}: {words.split()[-1]!r} is not an element, element "
                "class, "
                "anion word or formula, so nothing would be excluded; write e.g. 'without lead' "
                "or 'no Pb'"
            )
        notes.append(f"not understood and not used: {words!r}")


def parse_request(text: str) -> Request:
    """Parse a free-text request; raises :class:`RequestError` with a clear message."""
    if text is None or not str(text).strip():
        raise RequestError(
            "the request is empty; describe the material you want, e.g. 'a novel chloride "
            "perovskite'"
        )
    text = " ".join(str(text).split())
    if len(text) > 20_000:
        raise RequestError(f"the request is {len(text)} characters long; keep it under 20,000")
    try:
        sc = scan(text)
    except FormulaLimitError as exc:
        raise RequestError(str(exc)) from None
    if not sc.understood():
        unknown = ", ".join(repr(w) for w in sc.ignored[:8]) or repr(text)
        raise RequestError(
            f"could not understand the request {text!r}: no crystal family, element, element "
            "class, atom ratio "
            f"or formula found (unknown words: {unknown}). Try e.g. 'a novel chloride perovskite' "
            "or "
            f"'a stable chalcogenide with atom ratio 1:1:2'. Known families: {', '.join(FAMILIES)}"
        )
    try:
        family = _family(sc)
    except UnknownFamilyError as exc:  # pragma: no cover - the lexicon only holds known families
        raise RequestError(str(exc)) from exc
    ratio = _ratio(sc, family)
    classes = _classes(sc, family)
    notes: list[str] = []
    _unreadable(sc, notes)
    _check_elements(sc, classes, family)
    _check_sites(sc, family, ratio)
    n_elements = _n_elements(sc, family, ratio)
    preferred, avoided = _preferences(sc, notes)
    sites = _sites(sc, family, notes)
    oxidation = _oxidation(sc, family)
    any_of = tuple(
        dict.fromkeys(tuple(sorted(set(g))) for g, _ in sc.any_of if not set(g) & set(sc.required))
    )
    pref_any = tuple(dict.fromkeys(tuple(sorted(set(g))) for g, _ in sc.preferred_any_of
                                   if not set(g) & (set(sc.required) | set(sc.preferred))))
    pref_classes = tuple(dict.fromkeys(ClassConstraint(c, m) for c, m, _ in sc.preferred_classes))
    properties = tuple({g.detail: g for g in sc.properties}.values())
    return Request(
        text=text,
        family=family,
        ratio=ratio,
        required_elements=tuple(sorted(sc.required)),
        excluded_elements=tuple(sorted(sc.excluded)),
        any_of_elements=tuple(tuple(s for s in g if s not in sc.excluded) for g in any_of),
        element_classes=tuple(c for c, _ in classes),
        novelty=tuple(dict.fromkeys(sc.novelty)),
        excluded_formulae=tuple(dict.fromkeys(sc.excluded_formulae)),
        similar_to=tuple(dict.fromkeys(sc.similar)),
        count=_count(sc),
        objectives=tuple(dict.fromkeys(sc.objectives)),
        ignored_words=tuple(dict.fromkeys(sc.ignored)),
        n_elements=n_elements,
        preferred_elements=preferred,
        avoided_elements=avoided,
        preferred_any_of=pref_any,
        preferred_classes=pref_classes,
        oxidation=oxidation,
        sites=sites,
        properties=properties,
        notes=tuple(notes),
    )
