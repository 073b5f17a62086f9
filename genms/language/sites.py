"""The sites of a template and the ions that may fill them.

A :class:`Template` is a list of sites (:class:`SiteSpec`: multiplicity, role, seed ions);
:func:`family_templates` gives one per prototype of a family (seeds = the site's typical ions).
:func:`site_pool` scores every candidate ion of a site by data-mined substitution probability,
``max over seeds t of w_t * p(candidate replaces t)``, so the seeds themselves score highest
and chemically similar ions (same charge, similar size) follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genms.language.families import Family
from genms.language.size import SizeRule
from genms.language.species import Ion, SubstitutionModel, ion_universe, ions_for_element, parse_ion


@dataclass(frozen=True)
class SiteSpec:
    label: str
    count: int
    role: str  # cation | anion | metal
    seeds: tuple[tuple[Ion, float], ...]


@dataclass(frozen=True)
class Template:
    name: str
    family: str | None
    sites: tuple[SiteSpec, ...]
    source: str  # "family" | "known" | "similar"
    size_rules: tuple[SizeRule, ...] = ()

    @property
    def ionic(self) -> bool:
        return all(s.role != "metal" for s in self.sites)

    @property
    def ratio(self) -> tuple[int, ...]:
        return tuple(s.count for s in self.sites)


def family_templates(family: Family) -> list[Template]:
    out = []
    for proto in family.prototypes:
        sites = tuple(
            SiteSpec(s.label, s.count, s.role, tuple((parse_ion(i), 1.0) for i in s.ions))
            for s in proto.sites
        )
        out.append(
            Template(f"{family.name} {proto.name}", family.name, sites, "family", proto.size_rules)
        )
    return out


def site_pool(
    model: SubstitutionModel, site: SiteSpec, size: int, allowed, forced: Sequence[str] = ()
) -> dict[Ion, float]:
    """Candidate ions of a site with their substitution scores (top ``size`` plus ``forced``
    elements).

    ``allowed(element)`` filters the universe (excluded elements, class limits, Z limits);
    ions of ``forced`` elements (the request's required ones) are always kept when allowed.
    """
    universe = [i for i in ion_universe(site.role) if allowed(i.element)]
    seeds = site.seeds
    seed_ions = {ion for ion, _ in seeds}
    extra = [i for i in seed_ions if i not in set(universe) and allowed(i.element)]
    for el in forced:
        if allowed(el):
            extra.extend(
                i for i in ions_for_element(model, el, site.role) if i not in set(universe)
            )
    scores: dict[Ion, float] = {}
    for ion in list(universe) + extra:
        if site.role == "metal":
            s = max(w * model.element_similarity(ion.element, t.element) for t, w in seeds)
        else:
            s = max(w * model.cond_prob(ion, t) for t, w in seeds)
        scores[ion] = s
    ranked = sorted(scores, key=lambda i: (-scores[i], i))
    keep = ranked[:size]
    forced_set = set(forced)
    keep += [i for i in ranked[size:] if i.element in forced_set]
    return {i: scores[i] for i in keep}
