"""The offline formula proposer: data-driven ion substitution into site templates.

For each template (:mod:`genms.language.templates`) every site gets a pool of candidate
ions scored by Hautier's substitution probability against the site's seed ions. The
proposer enumerates combinations (the last anion site is solved for charge neutrality, so
only neutral combinations are visited), and keeps those that

* use distinct elements on distinct sites (so the formula keeps the template's ratio),
* pass the Pauling electronegativity test (every cation less electronegative than every
  anion) and, lazily at selection time, SMACT's charge-neutrality test as CDVAE applies it,
* honour the request (required / excluded / any-of elements, element classes, the number of
  distinct elements, oxidation states such as "a trivalent metal", and site constraints such
  as "a transition metal on the B site", which narrow that site's pool), and
* are novel against the reference when the request asks for it (``novelty: auto``).

Each combination's log score is the sum of its sites' log substitution scores. ``n`` formulae
are then drawn greedily: the score plus Gumbel noise of scale ``temperature`` (so ``seed``
matters), plus ``preference_weight`` × the fraction of the request's soft wishes met
("preferably a sulfide", "magnetic"), minus ``diversity`` for every earlier pick that put the
same element on the same site. Soft wishes rank; they never remove a formula.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Element

from genms.configs import ConfigError, check_ranges, ranged
from genms.crystal.composition import canonical_formula, smact_valid
from genms.data.reference import ReferenceFormulae
from genms.interfaces import FormulaCandidate
from genms.language.elements import class_members, electronegativity
from genms.language.properties import R_HI, magnetic_ions
from genms.language.request import Request, parse_request
from genms.language.sites import Template, site_pool
from genms.language.size import check_rules, rules_pass
from genms.language.species import Ion, SubstitutionModel, get_model
from genms.language.templates import templates_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfflineConfig:
    pool_size: int = ranged(24, 1, 200)  # candidate ions per cation site
    anion_pool_size: int = ranged(8, 1, 200)
    # intermetallic sites (no charge balance prunes their products)
    metal_pool_size: int = ranged(12, 1, 200)
    # templates drawn from known compounds when no family is named
    known_templates: int = ranged(24, 0, 10_000)
    max_template_elements: int = ranged(4, 1, 8)
    # atoms in the reduced formula of a known template
    max_template_atoms: int = ranged(10, 1, 1000)
    # Gumbel noise scale on the log score (0: deterministic ranking)
    temperature: float = ranged(0.3, 0, 100)
    diversity: float = ranged(0.7, 0, 100)  # log-score penalty per earlier pick sharing an element
    max_combinations: int = ranged(20_000, 1, 10_000_000)  # per template, before charge solving
    max_z: int = ranged(83, 1, 103)  # heavier elements only when the request names them
    exclude_elements: list[str] = field(default_factory=lambda: ["Tc", "Pm"])
    novelty: str = "auto"  # auto: only when the request asks; always; never
    check_smact: bool = True
    # log-score bonus for meeting every soft wish of the request
    preference_weight: float = ranged(2.0, 0, 100)

    def __post_init__(self) -> None:
        check_ranges(self, "proposer.offline.")


@dataclass(frozen=True)
class Proposal:
    formula: str  # site order, e.g. "CsPbCl3"
    key: tuple  # sorted (element, count) pairs of the reduced composition
    log_score: float
    score: float  # in (0, 1]: geometric-mean site score relative to the template's best
    template: Template
    ions: tuple[Ion, ...]


class _Rules:
    """The request's constraints, compiled for fast checks on element tuples."""

    def __init__(self, request: Request, cfg: OfflineConfig) -> None:
        self.required = set(request.required_elements)
        self.excluded = set(request.excluded_elements) | (set(cfg.exclude_elements) - self.required)
        self.any_of = [set(g) for g in request.any_of_elements]
        self.any_classes = [
            class_members(c.name) for c in request.element_classes if c.mode == "any"
        ]
        self.all_classes = [
            class_members(c.name) for c in request.element_classes if c.mode == "all"
        ]
        self.none_classes = [
            class_members(c.name) for c in request.element_classes if c.mode == "none"
        ]
        self.max_z = cfg.max_z
        self._z = {}
        self._element = Element
        self.n_elements = request.n_elements
        self.sites = {s.label: s for s in request.sites}
        self.oxidation = request.oxidation
        # site label -> the charge every ion there must have ("a trivalent cation on the B site")
        self.site_charges = {
            o.site: o.charge for o in request.oxidation if o.site and not o.element and not o.cls
        }
        self.preferences = request.preference_tests()
        self.magnetic = [
            g.name for g in request.property_goals(R_HI) if g.name in ("magnetic", "non-magnetic")
        ]
        self.forced = sorted(
            self.required
            | set(request.preferred_elements)
            | {o.element for o in request.oxidation if o.element}
            | {v for s in request.sites for kind, v in s.options if kind == "element"}
        )

    def site_allowed(self, label: str):
        """The element filter of one site: the request's, narrowed by a site constraint."""
        site = self.sites.get(label)
        if site is None:
            return self.allowed
        return lambda el: self.allowed(el) and site.satisfied_by(el)

    def states_ok(self, ions: tuple[Ion, ...], labels: tuple[str, ...]) -> bool:
        return all(o.satisfied_by(ions, labels) for o in self.oxidation)

    def soft_fraction(self, ions: tuple[Ion, ...]) -> float:
        """Fraction of the soft wishes (preferences, magnetism) a proposal meets (1 when there are
        none)."""
        elements = {i.element for i in ions}
        met = [bool(test(elements)) for _, test in self.preferences]  # type: ignore[operator]
        if self.magnetic:
            has = bool(magnetic_ions(ions))
            met += [has == (name == "magnetic") for name in self.magnetic]
        return sum(met) / len(met) if met else 1.0

    def allowed(self, element: str) -> bool:
        if element in self.excluded:
            return False
        if element not in self.required:
            z = self._z.get(element)
            if z is None:
                z = self._z[element] = self._element(element).Z
            if z > self.max_z:
                return False
        return all(element in m for m in self.all_classes) and not any(
            element in m for m in self.none_classes
        )

    def satisfied(self, elements: set[str]) -> bool:
        return (self.required <= elements and all(g & elements for g in self.any_of)
                and all(m & elements for m in self.any_classes))


def _formula(elements: tuple[str, ...], counts: tuple[int, ...]) -> tuple[str, tuple]:
    g = math.gcd(*counts)
    text = "".join(
        f"{e}{c // g if c // g != 1 else ''}" for e, c in zip(elements, counts, strict=True)
    )
    return text, tuple(sorted((e, c // g) for e, c in zip(elements, counts, strict=True)))


def _pauling_ok(ions: tuple[Ion, ...]) -> bool:
    cat = [electronegativity(i.element) for i in ions if i.charge > 0]
    an = [electronegativity(i.element) for i in ions if i.charge < 0]
    cat = [x for x in cat if x == x]
    an = [x for x in an if x == x]
    return not cat or not an or max(cat) < min(an)


class OfflineProposer:
    """Chemically sensible, constraint-honouring formulae without any network access."""

    name = "offline"

    def __init__(
        self,
        cfg: OfflineConfig,
        reference: ReferenceFormulae,
        model: SubstitutionModel | None = None,
    ):
        if cfg.novelty not in ("auto", "always", "never"):
            raise ConfigError(
                f"proposer.offline.novelty={cfg.novelty!r}: use auto, always or never"
            )
        self.cfg = cfg
        self.reference = reference
        self.model = model or get_model()

    # -- enumeration -------------------------------------------------------------------
    def _pools(self, template: Template, rules: _Rules) -> list[list[tuple[Ion, float]]]:
        pools = []
        for site in template.sites:
            size = {"anion": self.cfg.anion_pool_size, "metal": self.cfg.metal_pool_size}.get(
                site.role, self.cfg.pool_size
            )
            allowed = rules.site_allowed(site.label) if template.family else rules.allowed
            scores = site_pool(self.model, site, size, allowed, rules.forced)
            charge = rules.site_charges.get(site.label) if template.family else None
            pools.append([(ion, math.log(max(s, 1e-300))) for ion, s in scores.items()
                          if charge is None or ion.charge == charge])
        return pools

    def _shrink(self, pools: list, skip: int) -> list:
        """Trim the largest pools until the product over the free sites fits the budget."""
        pools = [list(p) for p in pools]
        while (
            math.prod(len(p) for i, p in enumerate(pools) if i != skip) > self.cfg.max_combinations
        ):
            i = max((j for j in range(len(pools)) if j != skip), key=lambda j: len(pools[j]))
            pools[i] = pools[i][: max(1, int(len(pools[i]) * 0.8))]
        return pools

    def _template_proposals(self, template: Template, rules: _Rules) -> list[Proposal]:
        pools = self._pools(template, rules)
        if any(not p for p in pools):
            return []
        counts = tuple(s.count for s in template.sites)
        labels = tuple(s.label for s in template.sites)
        best = sum(max(ls for _, ls in p) for p in pools)
        n_sites = len(pools)
        ionic = template.ionic
        close = (
            max(range(n_sites), key=lambda i: (template.sites[i].role == "anion", counts[i], i))
            if ionic
            else -1
        )
        pools = self._shrink(pools, close)
        free = [i for i in range(n_sites) if i != close]
        by_charge: dict[int, list[tuple[Ion, float]]] = {}
        if close >= 0:
            for ion, ls in pools[close]:
                by_charge.setdefault(ion.charge, []).append((ion, ls))
        out = []
        for combo in itertools.product(*(pools[i] for i in free)):
            if close >= 0:
                q = sum(counts[i] * ion.charge for i, (ion, _) in zip(free, combo, strict=True))
                if q % counts[close]:
                    continue
                closers = by_charge.get(-q // counts[close], [])
            else:
                closers = [None]
            for closer in closers:
                chosen = dict(zip(free, combo, strict=True))
                if closer is not None:
                    chosen[close] = closer
                ions = tuple(chosen[i][0] for i in range(n_sites))
                elements = tuple(i.element for i in ions)
                if len(set(elements)) != n_sites or not rules.satisfied(set(elements)):
                    continue
                if ionic and not _pauling_ok(ions):
                    continue
                if rules.oxidation and not rules.states_ok(ions, labels):
                    continue
                if template.size_rules and not rules_pass(template.size_rules, labels, ions):
                    continue
                log_score = sum(chosen[i][1] for i in range(n_sites))
                text, key = _formula(elements, counts)
                score = math.exp(min(0.0, (log_score - best) / n_sites))
                out.append(Proposal(text, key, log_score, score, template, ions))
        return out

    def enumerate(self, request: Request | str, seed: int = 0) -> list[Proposal]:
        """Every admissible proposal (before novelty and SMACT), best first, one per composition."""
        request = parse_request(request) if isinstance(request, str) else request
        rules = _Rules(request, self.cfg)
        rng = np.random.default_rng(seed)
        templates = templates_for(request, self.reference.examples, self.cfg.known_templates,
                                  self.cfg.max_template_elements, self.cfg.max_template_atoms, rng)
        if request.n_elements:
            templates = [t for t in templates if len(t.sites) == request.n_elements]
        best: dict[tuple, Proposal] = {}
        for t in templates:
            for p in self._template_proposals(t, rules):
                if p.key not in best or p.log_score > best[p.key].log_score:
                    best[p.key] = p
        log.debug(
            "offline proposer: %d templates, %d admissible compositions", len(templates), len(best)
        )
        return sorted(best.values(), key=lambda p: (-p.log_score, p.formula))

    # -- selection ---------------------------------------------------------------------
    def wants_novel(self, request: Request) -> bool:
        """Whether formulae known in the reference datasets are left out."""
        return self.cfg.novelty == "always" or (
            self.cfg.novelty == "auto" and request.novel_vs_databases
        )

    def acceptable(self, p: Proposal, request: Request) -> tuple[bool, str]:
        """Lazy checks: the user's list, novelty, SMACT. Returns (ok, reason)."""
        reduced = canonical_formula(p.formula)
        if reduced is None:
            return False, "not a formula"
        if reduced in {canonical_formula(f) for f in request.excluded_formulae}:
            return False, "in the request's list"
        known = self.reference.sources_of(reduced)
        if known and (self.wants_novel(request) or "user list" in known and request.wants_novel):
            return False, f"known ({self.reference.known_claim(reduced)})"
        if self.cfg.check_smact and not smact_valid(reduced):
            return False, "fails SMACT charge neutrality"
        return (
            True,
            f"known: {self.reference.known_claim(reduced)}"
            if known
            else "novel: not in the reference formulae",
        )

    def select(
        self, proposals: list[Proposal], request: Request, n: int, seed: int
    ) -> list[tuple[Proposal, str]]:
        """``n`` proposals: score + Gumbel noise - diversity penalty, with lazy checks."""
        if not proposals or n <= 0:
            return []
        rng = np.random.default_rng(seed)
        logs = np.array([p.log_score for p in proposals])
        rules = _Rules(request, self.cfg)
        if rules.preferences or rules.magnetic:
            met = np.array([rules.soft_fraction(p.ions) for p in proposals])
            logs = logs + self.cfg.preference_weight * met
        key = (
            logs + self.cfg.temperature * rng.gumbel(size=len(proposals))
            if self.cfg.temperature > 0
            else logs.copy()
        )
        tmpl_ids: dict[int, int] = {}
        tmpl = np.array([tmpl_ids.setdefault(id(p.template), len(tmpl_ids)) for p in proposals])
        width = max(len(p.ions) for p in proposals)
        z = np.full((len(proposals), width), -1, dtype=np.int64)
        names: dict[str, int] = {}
        for j, p in enumerate(proposals):
            for s, ion in enumerate(p.ions):
                z[j, s] = names.setdefault(ion.element, len(names))
        alive = np.ones(len(proposals), dtype=bool)
        penalty = np.zeros(len(proposals))
        picked: list[tuple[Proposal, str]] = []
        while len(picked) < n and alive.any():
            j = int(np.argmax(np.where(alive, key - penalty, -np.inf)))
            alive[j] = False
            ok, why = self.acceptable(proposals[j], request)
            if not ok:
                continue
            picked.append((proposals[j], why))
            same_t = tmpl == tmpl[j]
            for s, ion in enumerate(proposals[j].ions):
                # cation and metal sites; the anion defines the chemistry asked for
                if ion.charge >= 0:
                    penalty[same_t & (z[:, s] == z[j, s])] += self.cfg.diversity
        return picked

    def propose(self, request: Request | str, n: int, seed: int) -> list[FormulaCandidate]:
        request = parse_request(request) if isinstance(request, str) else request
        picked = self.select(self.enumerate(request, seed), request, n, seed)
        return [self._candidate(p, why) for p, why in picked]

    def _candidate(self, p: Proposal, novelty: str) -> FormulaCandidate:
        sites = ", ".join(
            f"{s.label}={ion}" for s, ion in zip(p.template.sites, p.ions, strict=True)
        )
        charge = " + ".join(
            f"{s.count}x({ion.charge:+d})" for s, ion in zip(p.template.sites, p.ions, strict=True)
        )
        reasons = [f"{p.template.name}: {sites} (substitution likelihood {p.score:.2f})"]
        if p.template.size_rules:
            labels = [s.label for s in p.template.sites]
            reasons.append("; ".join(check_rules(p.template.size_rules, labels, p.ions)[1]))
        if p.template.ionic:
            reasons.append(
                f"charge neutral: {charge} = 0; cations less electronegative than anions"
            )
        else:
            reasons.append("intermetallic: no ionic charge balance needed")
        reasons.append(novelty)
        return FormulaCandidate(p.formula, float(p.score), tuple(reasons), "offline")
