"""The language level as the search sees it: request parsing, π_hi and R_hi.

:class:`LanguageLevel` bundles the three pieces of :mod:`genms.language` the search needs —
``parse_request`` (text -> ``Request``), a formula proposer (π_hi) and an R_hi scorer adapted
to :class:`~genms.interfaces.FormulaScorer` — built once from the ``proposer``, ``rhi`` and
``paths`` config nodes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from genms.data.reference import ReferenceFormulae
from genms.interfaces import FormulaCandidate, FormulaProposer, FormulaScore, FormulaScorer
from genms.language.proposer import ProposerConfig, build_proposer, build_ranker, build_reference
from genms.language.request import Request, RequestError, parse_request
from genms.language.rhi import RHi, RHiConfig, ScoredFormula
from genms.paths import PathsConfig

log = logging.getLogger(__name__)

__all__ = ["LanguageLevel", "RequestError", "RhiScorer", "build_language", "parse"]


def parse(request: str | Request) -> tuple[Request, str]:
    """``(parsed request, its text)``; raises ``RequestError`` with a clear message."""
    if isinstance(request, Request):
        return request, request.text
    text = str(request or "").strip()
    if not text:
        raise RequestError(
            'empty request: describe the material, e.g. "a novel chloride perovskite '
            'with low formation energy"'
        )
    return parse_request(text), text


class RhiScorer:
    """R_hi (:class:`genms.language.rhi.RHi`) as a :class:`~genms.interfaces.FormulaScorer`.

    ``RHi.score`` returns the formulae best first; the search wants them in its own order.
    """

    def __init__(self, rhi: RHi) -> None:
        self.rhi = rhi

    @property
    def reference(self) -> ReferenceFormulae:
        return self.rhi.reference

    def score(self, request: Request, candidates: Sequence[FormulaCandidate]) -> list[FormulaScore]:
        scored = {s.formula: to_formula_score(s) for s in self.rhi.score(request, list(candidates))}
        return [scored[c.formula] for c in candidates]


def to_formula_score(scored: ScoredFormula) -> FormulaScore:
    """A :class:`genms.language.rhi.ScoredFormula` as the search's :class:`FormulaScore`."""
    checks = {c.name: float(c.score) for c in scored.checks}
    reasons = tuple(f"{c.name}: {c.reason}" for c in scored.checks if c.reason)
    failures = tuple(f"{c.name}: {c.reason}" for c in scored.failed())
    return FormulaScore(
        scored.formula, float(scored.total), bool(scored.passed), reasons, checks, failures
    )


@dataclass
class LanguageLevel:
    """π_hi + R_hi, loaded once; ``reference`` is the known-formula set R_hi's uniqueness uses."""

    proposer: FormulaProposer
    scorer: FormulaScorer
    fingerprint: str = ""
    reference: ReferenceFormulae | None = None

    @staticmethod
    def parse(request: str | Request) -> tuple[Request, str]:
        return parse(request)


def language_settings(proposer: ProposerConfig, rhi: RHiConfig) -> dict:
    """The settings that change proposals and scores (the ``llm`` node matters only to the
    ``llm`` backend); part of a search journal's fingerprint."""
    settings = dataclasses.asdict(proposer)
    if proposer.backend != "llm":
        settings.pop("llm")
    return {"proposer": settings, "rhi": dataclasses.asdict(rhi)}


def build_language(proposer: ProposerConfig, rhi: RHiConfig, paths: PathsConfig) -> LanguageLevel:
    """The configured proposer (offline by default) and R_hi against its reference formulae."""
    reference = build_reference(proposer, paths.data_dir, paths.cache_dir)
    built = build_proposer(proposer, reference)
    scorer = RhiScorer(RHi(reference, rhi, build_ranker(proposer)))
    fingerprint = json.dumps(language_settings(proposer, rhi), sort_keys=True, default=str)
    return LanguageLevel(built, scorer, fingerprint, reference)
