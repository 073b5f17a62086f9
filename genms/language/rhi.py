"""R_hi: the high-level heuristic that filters and ranks proposed formulae for a request.

The paper's R_hi (``genms-paper.md`` §1.3) combines a formula syntax check, a uniqueness check
against known databases, a compliance check of the atom ratio, and an LLM ranking. Here each
is a :class:`CheckResult` reported per formula, with a reason:

============  ====================================================================  =======
check         what it tests                                                         default
============  ====================================================================  =======
syntax        the text is a chemical formula of known elements                      hard
uniqueness    reduced formula absent from the reference / the user's list, and not  hard if
              a repeat of an earlier candidate                                      asked
ratio         atom ratio equals the requested one (or the family's)                 hard
elements      required / excluded / any-of elements and element classes             hard
charge        SMACT charge neutrality with the Pauling test (CDVAE's rule)          hard
likelihood    site fit in the requested family (with its size rules), else how      soft
              common the oxidation states are
llm_rank      the LLM's ranking of the survivors (only with an LLM ranker)           soft
preference    the request's soft wishes ("preferably a sulfide"): fraction met       soft
property      property goals R_hi can judge offline (magnetic: an ion with          soft
              unpaired d or f electrons; non-magnetic: none)
============  ====================================================================  =======

The elements check also covers the number of distinct elements, oxidation states ("a
trivalent metal", "Fe3+") and site constraints ("a transition metal on the B site"): some
charge-neutral site assignment must satisfy all of them at once. The preference and property
checks appear only when the request has such wishes.

A formula failing a hard check gets total 0; otherwise the total is the weighted mean of
the check scores, in [0, 1].
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from genms.configs import in_range
from genms.crystal.composition import (
    FormulaError,
    canonical_formula,
    formula_elements,
    formula_ratio,
    normalise_ratio,
    parse_formula,
    smact_valid,
)
from genms.data.reference import ReferenceFormulae
from genms.interfaces import FormulaCandidate
from genms.language.properties import R_HI, magnetic_ions
from genms.language.request import Request, parse_request
from genms.language.sitefit import assignments, best_site_fit, likely_ions, oxidation_likelihood

log = logging.getLogger(__name__)

CHECKS = (
    "syntax",
    "uniqueness",
    "ratio",
    "elements",
    "charge",
    "likelihood",
    "llm_rank",
    "preference",
    "property",
)
DEFAULT_WEIGHTS = {
    "syntax": 0.0,
    "uniqueness": 1.0,
    "ratio": 0.0,
    "elements": 0.0,
    "charge": 1.0,
    "likelihood": 2.0,
    "llm_rank": 2.0,
    "preference": 1.0,
    "property": 1.0,
}


@dataclass(frozen=True)
class RHiConfig:
    # checks missing here keep their DEFAULT_WEIGHTS
    weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS), metadata=in_range(0, 1000)
    )
    hard: list[str] = field(default_factory=lambda: ["syntax", "ratio", "elements", "charge"])
    # uniqueness is hard whenever the request asks for novelty; set this to make it always hard
    uniqueness_always_hard: bool = False


@dataclass(frozen=True)
class CheckResult:
    name: str
    score: float  # [0, 1]
    passed: bool
    hard: bool
    reason: str

    def __str__(self) -> str:
        mark = "ok" if self.passed else ("FAIL" if self.hard else "low")
        return f"{self.name}: {mark} ({self.score:.2f}) {self.reason}"


@dataclass(frozen=True)
class ScoredFormula:
    formula: str
    reduced: str | None
    total: float
    passed: bool
    checks: tuple[CheckResult, ...]
    source: str = ""
    proposer_score: float = 0.0
    proposer_reasons: tuple[str, ...] = ()

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.hard and not c.passed]

    def to_dict(self) -> dict:
        return {
            "formula": self.formula,
            "reduced": self.reduced,
            "total": self.total,
            "passed": self.passed,
            "source": self.source,
            "proposer_score": self.proposer_score,
            "proposer_reasons": list(self.proposer_reasons),
            "checks": {
                c.name: {"score": c.score, "passed": c.passed, "hard": c.hard, "reason": c.reason}
                for c in self.checks
            },
        }


class Ranker(Protocol):
    """Scores formulae in [0, 1] by how well they answer the request (e.g. an LLM's ranking)."""

    def rank(self, request: Request, formulae: Sequence[str]) -> tuple[list[float], str]: ...


# -- the checks ------------------------------------------------------------------------
def check_syntax(formula: str) -> tuple[bool, str, str | None]:
    try:
        comp = parse_formula(formula)
    except FormulaError as exc:
        return False, str(exc), None
    if any(abs(v - round(v)) > 1e-6 for v in comp.get_el_amt_dict().values()):
        return False, f"{formula!r} has fractional amounts", None
    return True, f"valid formula (reduced: {comp.reduced_formula})", comp.reduced_formula


def check_ratio(reduced: str, request: Request) -> tuple[float, str]:
    ratios = request.ratios
    have = formula_ratio(reduced)
    shown = ":".join(str(int(x)) for x in have)
    if not ratios:
        return 1.0, f"no ratio requested (formula has {shown})"
    want = {normalise_ratio(r): ":".join(map(str, r)) for r in ratios}
    if have in want:
        what = f" ({request.family})" if request.family and not request.ratio else ""
        return 1.0, f"atom ratio {shown} matches {want[have]}{what}"
    return 0.0, f"atom ratio {shown} does not match {' or '.join(want.values())}"


def check_elements(reduced: str, request: Request) -> tuple[float, str]:
    elements = formula_elements(reduced)
    tests: list[tuple[bool, str]] = []
    for el in request.required_elements:
        tests.append(
            (el in elements, f"contains {el}" if el in elements else f"lacks required {el}")
        )
    for el in request.excluded_elements:
        tests.append(
            (el not in elements, f"no {el}" if el not in elements else f"contains excluded {el}")
        )
    for group in request.any_of_elements:
        hit = sorted(elements & set(group))
        tests.append((bool(hit), f"has {'/'.join(hit)}" if hit else f"none of {'/'.join(group)}"))
    for c in request.element_classes:
        ok = c.satisfied_by(elements)
        tests.append((ok, f"{c}: {'yes' if ok else 'no'}"))
    if request.n_elements:
        ok = len(elements) == request.n_elements
        tests.append(
            (
                ok,
                f"{len(elements)} distinct elements"
                + ("" if ok else f", not {request.n_elements}"),
            )
        )
    if request.oxidation or request.sites:
        tests.append(check_states_and_sites(reduced, request))
    if not tests:
        return 1.0, "no element constraints"
    score = sum(ok for ok, _ in tests) / len(tests)
    return score, "; ".join(msg for _, msg in tests)


def check_states_and_sites(reduced: str, request: Request) -> tuple[bool, str]:
    """Whether one charge-neutral assignment meets every oxidation-state and site constraint."""
    wanted = [str(o) for o in request.oxidation] + [str(s) for s in request.sites]
    for labels, ions in assignments(reduced, request.family):
        if not all(o.satisfied_by(ions, labels) for o in request.oxidation):
            continue
        if request.sites and (
            labels is None
            or not all(
                s.label in labels and s.satisfied_by(ions[labels.index(s.label)].element)
                for s in request.sites
            )
        ):
            continue
        where = (
            " ".join(f"{lab}={ion}" for lab, ion in zip(labels, ions, strict=True))
            if labels
            else " ".join(str(i) for i in ions)
        )
        return True, f"{'; '.join(wanted)}: yes ({where})"
    return False, f"no charge-neutral assignment gives {'; '.join(wanted)}"


def check_preference(reduced: str, request: Request) -> tuple[float, str] | None:
    """Fraction of the request's soft wishes the formula meets (None: the request has none)."""
    tests = request.preference_tests()
    if not tests:
        return None
    elements = set(formula_elements(reduced))
    met = [(desc, bool(test(elements))) for desc, test in tests]  # type: ignore[operator]
    score = sum(ok for _, ok in met) / len(met)
    return score, "; ".join(f"{desc}: {'yes' if ok else 'no'}" for desc, ok in met)


def check_property(reduced: str, request: Request) -> tuple[float, str] | None:
    """Property goals R_hi can judge offline (magnetic ions); None when the request has none."""
    goals = [g for g in request.property_goals(R_HI) if g.name in ("magnetic", "non-magnetic")]
    if not goals:
        return None
    ions = likely_ions(reduced, request.family)
    if ions is None:
        return 0.0, "no charge-neutral oxidation states to judge magnetism by"
    magnetic = magnetic_ions(ions)
    parts, score = [], 0.0
    for g in goals:
        ok = bool(magnetic) == (g.name == "magnetic")
        score += ok / len(goals)
        what = (
            ", ".join(magnetic)
            if magnetic
            else f"no unpaired d/f electrons in {' '.join(map(str, ions))}"
        )
        parts.append(f"{g.name}: {'yes' if ok else 'no'} ({what})")
    return score, "; ".join(parts)


def check_uniqueness(reduced: str, request: Request, reference: ReferenceFormulae,
                     seen: set[str]) -> tuple[float, str, bool]:
    """(score, reason, always_fatal): repeats and listed formulae fail whatever the request."""
    if reduced in seen:
        return 0.0, "repeats an earlier candidate", True
    if reduced in {canonical_formula(f) for f in request.excluded_formulae}:
        return 0.0, "in the request's list of formulae to avoid", True
    sources = reference.sources_of(reduced)
    if "user list" in sources and request.wants_novel:
        return 0.0, "in the configured list of known formulae", True
    if sources:
        asked = "" if request.novel_vs_databases else " (novelty not requested)"
        return 0.0, f"known: {reference.known_claim(reduced)}{asked}", False
    return 1.0, f"novel: {reference.novelty_claim()}", False


def check_charge(reduced: str) -> tuple[float, str]:
    if smact_valid(reduced):
        return 1.0, "charge neutral with the Pauling electronegativity test (SMACT)"
    return 0.0, "no charge-neutral oxidation states pass SMACT's Pauling test"


def check_likelihood(reduced: str, request: Request) -> tuple[float, str]:
    if request.family:
        fit = best_site_fit(reduced, request.family)
        if fit is None:
            return 0.0, f"its elements cannot fill the {request.family} sites"
        score = fit.score if fit.size_ok else 0.5 * fit.score
        return score, fit.describe() + ("" if fit.size_ok else " (size rule violated: halved)")
    return oxidation_likelihood(reduced)


class RHi:
    """The composable scorer; see the module docstring for the checks."""

    def __init__(
        self,
        reference: ReferenceFormulae,
        cfg: RHiConfig | None = None,
        ranker: Ranker | None = None,
    ):
        self.reference = reference
        self.cfg = cfg or RHiConfig()
        unknown = (set(self.cfg.weights) | set(self.cfg.hard)) - set(CHECKS)
        if unknown:
            raise ValueError(
                f"unknown R_hi check(s) {sorted(unknown)}; checks are {', '.join(CHECKS)}"
            )
        self.weights = {**DEFAULT_WEIGHTS, **self.cfg.weights}
        self.ranker = ranker

    def _is_hard(self, name: str, request: Request) -> bool:
        if name == "uniqueness":
            return (
                self.cfg.uniqueness_always_hard
                or request.novel_vs_databases
                or "uniqueness" in self.cfg.hard
            )
        return name in self.cfg.hard

    def _checks(
        self, formula: str, request: Request, seen: set[str]
    ) -> tuple[str | None, list[CheckResult]]:
        ok, why, reduced = check_syntax(formula)
        results = [CheckResult("syntax", float(ok), ok, self._is_hard("syntax", request), why)]
        if reduced is None:
            return None, results
        score, why, listed = check_uniqueness(reduced, request, self.reference, seen)
        hard = listed or self._is_hard("uniqueness", request)
        results.append(CheckResult("uniqueness", score, score > 0, hard, why))
        for name, fn in (("ratio", check_ratio), ("elements", check_elements)):
            score, why = fn(reduced, request)
            results.append(
                CheckResult(name, score, score >= 1.0, self._is_hard(name, request), why)
            )
        score, why = check_charge(reduced)
        results.append(
            CheckResult("charge", score, score > 0, self._is_hard("charge", request), why)
        )
        score, why = check_likelihood(reduced, request)
        results.append(
            CheckResult("likelihood", score, score > 0, self._is_hard("likelihood", request), why)
        )
        for name, fn in (("preference", check_preference), ("property", check_property)):
            out = fn(reduced, request)
            if out is not None:
                hard = self._is_hard(name, request)
                results.append(CheckResult(name, out[0], out[0] > 0, hard, out[1]))
        return reduced, results

    def _total(self, checks: Sequence[CheckResult]) -> tuple[float, bool]:
        if any(c.hard and not c.passed for c in checks):
            return 0.0, False
        weights = [(self.weights.get(c.name, 0.0), c.score) for c in checks]
        norm = sum(w for w, _ in weights)
        return (sum(w * s for w, s in weights) / norm if norm > 0 else 1.0), True

    def score(
        self, request: Request | str, candidates: Sequence[FormulaCandidate | str]
    ) -> list[ScoredFormula]:
        """Every candidate scored, best first (passing ones before failing ones)."""
        request = parse_request(request) if isinstance(request, str) else request
        seen: set[str] = set()
        rows = []
        for cand in candidates:
            c = cand if isinstance(cand, FormulaCandidate) else FormulaCandidate(str(cand))
            reduced, checks = self._checks(c.formula, request, seen)
            if reduced is not None:
                seen.add(reduced)
            rows.append((c, reduced, checks))
        if self.ranker is not None:
            rows = self._rank(request, rows)
        out = []
        for c, reduced, checks in rows:
            total, passed = self._total(checks)
            out.append(ScoredFormula(c.formula, reduced, total, passed, tuple(checks), c.source,
                                     float(c.score), tuple(c.reasons)))
        return sorted(out, key=lambda s: (not s.passed, -s.total, -s.proposer_score))

    def _rank(self, request: Request, rows: list) -> list:
        alive = [
            i
            for i, (_, _, checks) in enumerate(rows)
            if not any(x.hard and not x.passed for x in checks)
        ]
        if not alive:
            return rows
        formulae = [rows[i][0].formula for i in alive]
        try:
            scores, note = self.ranker.rank(request, formulae)  # type: ignore[union-attr]
        except Exception as exc:  # a ranker failure must not lose the other checks
            log.warning("ranking failed: %s", exc)
            scores, note = [0.5] * len(formulae), f"ranking unavailable: {exc}"
        if len(scores) != len(formulae):
            scores, note = (
                [0.5] * len(formulae),
                f"ranking unavailable: {len(scores)} scores for {len(formulae)}",
            )
        for i, s in zip(alive, scores, strict=True):
            c, reduced, checks = rows[i]
            rows[i] = (c, reduced, checks + [CheckResult("llm_rank", float(s), True, False, note)])
        return rows


def score_formulae(request: Request | str, candidates: Sequence[FormulaCandidate | str],
                   reference: ReferenceFormulae, cfg: RHiConfig | None = None,
                   ranker: Ranker | None = None) -> list[ScoredFormula]:
    """Score ``candidates`` for ``request`` with R_hi (see :class:`RHi`)."""
    return RHi(reference, cfg, ranker).score(request, candidates)

