"""Site templates: the skeletons the offline proposer fills with ions.

A :class:`Template` is a list of sites (multiplicity, role, seed ions). Templates come from

* the family knowledge base (one per prototype; seeds = the site's typical ions);
* analogues ("a perovskite like CsPbI3"): the family's sites seeded with the analogue's ions
  (weight 1) and the typical ions (weight 0.3), or, without a family, the analogue's own sites;
* known compounds: when the request names no family, known compounds of the requested ratio /
  elements drawn from the reference data, whose sites are the compound's own elements in their
  most likely oxidation states (pymatgen's ICSD-based guesser).

The sites, the family templates and the scoring of a site's candidate ions are
:mod:`genms.language.sites`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymatgen.core import Composition

from genms.crystal.composition import (
    canonical_formula,
    formula_amounts,
    formula_elements,
    formula_ratio,
    normalise_ratio,
)
from genms.data.known import KnownCompounds
from genms.language.elements import class_members, electronegativity
from genms.language.families import Family, families_with_ratio, get_family
from genms.language.sitefit import best_site_fit
from genms.language.sites import SiteSpec, Template, family_templates
from genms.language.species import (
    NO_CATION,
    Ion,
)


@lru_cache(maxsize=20_000)
def _oxidation_guess(formula: str) -> tuple[tuple[str, int], ...] | None:
    """Most likely integer oxidation states (pymatgen's ICSD-based guesser), or None."""
    comp = Composition(formula)
    try:
        guesses = comp.oxi_state_guesses(max_sites=-1)
    except (ValueError, KeyError):
        return None
    for guess in guesses:
        states = {el: float(v) for el, v in guess.items()}
        if all(abs(v - round(v)) < 1e-6 and round(v) != 0 for v in states.values()):
            return tuple((el, int(round(v))) for el, v in states.items())
    return None


def template_from_formula(formula: str, source: str, family: str | None = None,
                          metallic: bool | None = None) -> Template | None:
    """A template whose sites are the elements of a known compound (None if not assignable)."""
    key = canonical_formula(formula)
    if key is None:
        return None
    amounts = Composition(key).get_el_amt_dict()
    if any(abs(v - round(v)) > 1e-6 for v in amounts.values()):
        return None
    metals = class_members("metal")
    if metallic is None:
        metallic = all(el in metals for el in amounts)
    if metallic:
        sites = tuple(
            SiteSpec(el, int(round(n)), "metal", ((Ion(el, 0), 1.0),)) for el, n in amounts.items()
        )
        return Template(f"like {key}", family, sites, source)
    guess = _oxidation_guess(key)
    if guess is None or any(q > 0 and el in NO_CATION for el, q in guess):
        return None  # no integer oxidation states, or an oxo-anion (sulfate, nitrate...)
    # Display order: cations then anions, each by increasing electronegativity (KAsS2, not AsKS2).
    order = sorted(guess, key=lambda kv: (kv[1] < 0, electronegativity(kv[0]), kv[0]))
    sites = tuple(
        SiteSpec(el, int(round(amounts[el])), "cation" if q > 0 else "anion", ((Ion(el, q), 1.0),))
        for el, q in order
    )
    return Template(f"like {key}", family, sites, source)


def analogue_templates(formula: str, family: Family, typical_weight: float = 0.3) -> list[Template]:
    """Family templates seeded by an analogue ("a perovskite like CsPbI3"): each site's seeds are
    the analogue's ion (weight 1) and the site's typical ions (``typical_weight``). Falls back to a
    template of the analogue's own sites when it does not fit the family."""
    fit = best_site_fit(formula, family)
    if fit is None:
        t = template_from_formula(formula, "similar", family.name)
        return [t] if t else []
    out = []
    for t in family_templates(family):
        if t.name != f"{family.name} {fit.prototype}":
            continue
        by_label = dict(zip(fit.labels, fit.ions, strict=True))
        sites = tuple(
            SiteSpec(
                s.label,
                s.count,
                s.role,
                ((by_label[s.label], 1.0),) + tuple((i, typical_weight) for i, _ in s.seeds),
            )
            for s in t.sites
        )
        out.append(
            Template(f"{t.name} like {formula}", family.name, sites, "similar", t.size_rules)
        )
    return out


def _satisfaction(elements: frozenset[str], request) -> int:
    """How many of the request's element wishes a known compound already meets."""
    score = sum(1 for e in request.required_elements if e in elements)
    score += sum(1 for g in request.any_of_elements if elements & set(g))
    score += sum(
        1 for c in request.element_classes if c.mode == "any" and elements & class_members(c.name)
    )
    return score


def _admissible(formula: str, request, max_elements: int, max_atoms: int) -> bool:
    elements = formula_elements(formula)
    if (
        not 2 <= len(elements) <= max_elements
        or sum(c for _, c in formula_amounts(formula)) > max_atoms
    ):
        return False
    if getattr(request, "n_elements", None) and len(elements) != request.n_elements:
        return False
    if elements & set(request.excluded_elements):
        return False
    for c in request.element_classes:
        if c.mode in ("all", "none") and not c.satisfied_by(elements):
            return False
    return not request.ratios or formula_ratio(formula) in {
        normalise_ratio(r) for r in request.ratios
    }


def known_templates(request, known: KnownCompounds, n_max: int, max_elements: int, max_atoms: int,
                    rng: np.random.Generator) -> list[Template]:
    """Templates from known compounds that best match the request (used without a family).

    Admissible compounds (right ratio, no excluded element, class limits met, 2 to
    ``max_elements`` elements) are ranked by how many element wishes they already meet; among
    the best, ``n_max`` are drawn round-robin over atom ratios (most common ratio first), in an
    order fixed by ``rng``.
    """
    pool = [f for f in known.by_formula if _admissible(f, request, max_elements, max_atoms)]
    if not pool:
        return []
    sat = np.array([_satisfaction(formula_elements(f), request) for f in pool])
    best = [f for f, s in zip(pool, sat, strict=True) if s == sat.max()]
    groups: dict[tuple, list[str]] = {}
    for f in best:
        groups.setdefault(formula_ratio(f), []).append(f)
    order = sorted(groups, key=lambda r: (-len(groups[r]), r))
    for r in order:
        rng.shuffle(groups[r])
    metallic = any(c.name == "metal" and c.mode == "all" for c in request.element_classes)
    out: list[Template] = []
    depth = 0
    while len(out) < n_max and any(depth < len(groups[r]) for r in order):
        for r in order:
            if depth < len(groups[r]) and len(out) < n_max:
                t = template_from_formula(
                    groups[r][depth], "known", request.family, metallic or None
                )
                if t is not None:
                    out.append(t)
        depth += 1
    return out


def templates_for(request, known: KnownCompounds, n_known: int, max_elements: int, max_atoms: int,
                  rng: np.random.Generator) -> list[Template]:
    """All templates for a request.

    A named family gives its prototypes (plus the analogues of "similar to ..."). Without a
    family, analogues are used alone (with the families of their ratio) when there are any;
    otherwise the families of the requested ratio and known compounds drawn from the data.
    """
    if request.family:
        family = get_family(request.family)
        out = [t for f in request.similar_to for t in analogue_templates(f, family)]
        # analogue-seeded family templates already hold the typical ions (at a lower weight)
        fitted = any(t.family == family.name and t.name.startswith(family.name) for t in out)
        return out if fitted else out + family_templates(family)
    similar = [t for t in (template_from_formula(f, "similar") for f in request.similar_to) if t]
    if similar:
        return similar
    out = []
    if request.ratio:
        want = normalise_ratio(request.ratio)
        for fam in families_with_ratio(want):
            out.extend(t for t in family_templates(fam) if normalise_ratio(t.ratio) == want)
    max_elements = max(max_elements, len(request.ratio or ()), request.n_elements or 0)
    out.extend(known_templates(request, known, n_known, max_elements, max_atoms, rng))
    return out
