"""How well a formula fits a family's sites, and how likely its oxidation states are.

* :func:`best_site_fit` assigns the formula's elements to the sites of each prototype of a
  family (counts must match), picks charge-neutral ions, and scores the assignment exactly as
  the offline proposer scores its own proposals: the geometric mean over sites of
  ``score(ion) / best score at that site``, where ``score(ion) = max over the site's typical
  ions t of p(ion replaces t)``; the family's ionic-size rules are checked too.
* :func:`oxidation_likelihood` is the family-free fallback: the best charge-neutral
  assignment of table ions, scored by how common each chosen oxidation state is for its
  element (1.0 when every element is in its most common state).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

from genms.crystal.composition import formula_amounts
from genms.language.elements import class_members
from genms.language.families import Family, Prototype, get_family
from genms.language.sites import family_templates, site_pool
from genms.language.size import check_rules
from genms.language.species import Ion, get_model, ions_for_element


@dataclass(frozen=True)
class SiteFit:
    family: str
    prototype: str
    labels: tuple[str, ...]
    ions: tuple[Ion, ...]
    score: float  # (0, 1]
    size_ok: bool
    notes: tuple[str, ...]

    def describe(self) -> str:
        sites = " ".join(f"{lab}={ion}" for lab, ion in zip(self.labels, self.ions, strict=True))
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return f"{self.family} {self.prototype}: {sites} (fit {self.score:.2f}){extra}"


@lru_cache(maxsize=256)
def _site_scores(family: str, proto_index: int, site_index: int) -> tuple[dict[Ion, float], float]:
    """Scores of every universe ion at one site, and the best score there."""
    template = family_templates(get_family(family))[proto_index]
    site = template.sites[site_index]
    scores = site_pool(get_model(), site, 10_000, lambda el: True)
    return scores, max(scores.values())


def _ion_score(family: str, p: int, s: int, ion: Ion, role: str) -> float:
    scores, best = _site_scores(family, p, s)
    if ion in scores:
        return scores[ion] / best
    model = get_model()
    template = family_templates(get_family(family))[p]
    seeds = template.sites[s].seeds
    if role == "metal":
        value = max(w * model.element_similarity(ion.element, t.element) for t, w in seeds)
    else:
        value = max(w * model.cond_prob(ion, t) for t, w in seeds)
    return min(1.0, value / best)


def _fits_for_prototype(family: Family, p: int, proto: Prototype, amounts: dict[str, float]):
    counts = [s.count for s in proto.sites]
    if len(counts) != len(amounts):
        return
    g_p = math.gcd(*counts)
    values = list(amounts.values())
    if any(abs(v - round(v)) > 1e-6 for v in values):
        return
    g_f = math.gcd(*[int(round(v)) for v in values])
    model = get_model()
    for perm in itertools.permutations(amounts):
        if any(
            int(round(amounts[el])) // g_f != c // g_p for el, c in zip(perm, counts, strict=True)
        ):
            continue
        options = [
            ions_for_element(model, el, site.role)
            for el, site in zip(perm, proto.sites, strict=True)
        ]
        if any(not o for o in options):
            continue
        for ions in itertools.product(*options):
            if (
                family.bonding != "intermetallic"
                and sum(c * i.charge for c, i in zip(counts, ions, strict=True)) != 0
            ):
                continue
            scores = [_ion_score(family.name, p, s, ion, site.role)
                      for s, (ion, site) in enumerate(zip(ions, proto.sites, strict=True))]
            score = math.exp(sum(math.log(max(x, 1e-300)) for x in scores) / len(scores))
            labels = tuple(site.label for site in proto.sites)
            size_ok, notes = check_rules(proto.size_rules, labels, ions)
            yield SiteFit(
                family.name, proto.name, labels, tuple(ions), score, size_ok, tuple(notes)
            )


def best_site_fit(formula: str, family: str | Family) -> SiteFit | None:
    """The best site assignment of ``formula`` in ``family`` (size-rule passes first), or None."""
    fam = family if isinstance(family, Family) else get_family(family)
    amounts = dict(formula_amounts(formula))
    best: SiteFit | None = None
    for p, proto in enumerate(fam.prototypes):
        for fit in _fits_for_prototype(fam, p, proto, amounts):
            if best is None or (fit.size_ok, fit.score) > (best.size_ok, best.score):
                best = fit
    return best


def assignments(formula: str, family: str | Family | None = None,
                max_states: int = 4) -> list[tuple[tuple[str, ...] | None, tuple[Ion, ...]]]:
    """Every charge-neutral ion assignment of ``formula``: with a family, ``(site labels, ions)``
    of every site fit of every prototype; without, ``(None, ions)`` over the ``max_states`` most
    common states of each element (all metals: the neutral atoms)."""
    if family is not None:
        fam = family if isinstance(family, Family) else get_family(family)
        amounts = dict(formula_amounts(formula))
        return [(fit.labels, fit.ions) for p, proto in enumerate(fam.prototypes)
                for fit in _fits_for_prototype(fam, p, proto, amounts)]
    return _free_assignments(formula, max_states)


@lru_cache(maxsize=4096)
def _free_assignments(formula: str, max_states: int) -> list[tuple[None, tuple[Ion, ...]]]:
    amounts = dict(formula_amounts(formula))
    if not amounts:
        return []
    metals = class_members("metal")
    if all(el in metals for el in amounts):
        return [(None, tuple(Ion(el, 0) for el in amounts))]
    model = get_model()
    options = []
    for el in amounts:
        ions = ions_for_element(model, el, "cation") + ions_for_element(model, el, "anion")
        options.append(sorted(ions, key=lambda i: -model.prior(i))[:max_states])
    return [(None, combo) for combo in itertools.product(*options)
            if abs(sum(amounts[i.element] * i.charge for i in combo)) < 1e-6]


def likely_ions(formula: str, family: str | Family | None = None) -> tuple[Ion, ...] | None:
    """The ions of the best site fit (with a family), else of the most common charge-neutral
    states."""
    if family is not None:
        fit = best_site_fit(formula, family)
        if fit is not None:
            return fit.ions
    model = get_model()
    best = max(_free_assignments(formula, 4), default=None,
               key=lambda a: sum(math.log(max(model.prior(i), 1e-300)) for i in a[1]))
    return None if best is None else best[1]


def oxidation_likelihood(formula: str, max_states: int = 4) -> tuple[float, str]:
    """(score in [0, 1], explanation) for the most likely charge-neutral oxidation states."""
    amounts = dict(formula_amounts(formula))
    if not amounts:
        return 0.0, "empty formula"
    metals = class_members("metal")
    if len(amounts) == 1 or all(el in metals for el in amounts):
        return 1.0, "metallic: every element is a metal (no ionic charges)"
    model = get_model()
    options = []
    for el in amounts:
        ions = ions_for_element(model, el, "cation") + ions_for_element(model, el, "anion")
        ions = sorted(ions, key=lambda i: -model.prior(i))[:max_states]
        if not ions:
            return 0.0, f"{el} has no known ionic state"
        best_prior = max(model.prior(i) for i in ions)
        options.append([(i, math.log(model.prior(i) / best_prior)) for i in ions])
    best: tuple[float, tuple[Ion, ...]] | None = None
    for combo in itertools.product(*options):
        if abs(sum(amounts[i.element] * i.charge for i, _ in combo)) > 1e-6:
            continue
        value = sum(ls for _, ls in combo) / len(combo)
        if best is None or value > best[0]:
            best = (value, tuple(i for i, _ in combo))
    if best is None:
        return 0.0, "no charge-neutral combination of common oxidation states"
    score = math.exp(best[0])
    return score, f"oxidation states {' '.join(str(i) for i in best[1])} (commonness {score:.2f})"
