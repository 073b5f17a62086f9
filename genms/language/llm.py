"""The LLM backend: formula proposals and R_hi ranking from an OpenAI-compatible chat model.

:class:`LLMProposer` follows the paper's π_hi = π_hi^RAG ∘ π_hi^retrieval: it retrieves
context (:mod:`genms.language.retrieval`), puts the known formulae of the family and the
user's list in the prompt (long-context de-duplication), asks for formulae only, parses the
reply strictly, and calls again with a new seed until ``n`` formulae pass R_hi's hard checks or
``max_calls`` replies were used. :class:`LLMRanker` asks the model to order R_hi's survivors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from genms.crystal.composition import canonical_formula
from genms.data.reference import ReferenceFormulae
from genms.interfaces import FormulaCandidate
from genms.language.llm_client import ChatClient, LLMConfig, LLMError, default_cache
from genms.language.prompts import propose_prompt, rank_prompt, system_prompt
from genms.language.replies import parse_formula_list
from genms.language.request import Request, parse_request
from genms.language.retrieval import RetrievalConfig, retrieve
from genms.language.rhi import RHi

log = logging.getLogger(__name__)


def _messages(prompt: str, version: str) -> list[dict]:
    return [
        {"role": "system", "content": system_prompt(version).strip()},
        {"role": "user", "content": prompt},
    ]


class LLMProposer:
    name = "llm"

    def __init__(
        self,
        cfg: LLMConfig,
        reference: ReferenceFormulae,
        retrieval: RetrievalConfig | None = None,
        client: ChatClient | None = None,
    ) -> None:
        self.cfg = cfg
        self.reference = reference
        self.retrieval = retrieval or RetrievalConfig()
        self.client = client or ChatClient(cfg, default_cache(cfg))

    def prompt(self, request: Request, n: int) -> str:
        context = retrieve(request, self.reference.examples, self.retrieval)
        known = list(dict.fromkeys(list(request.excluded_formulae) + sorted(self.reference.user)
                                   + context.example_formulae))[: self.cfg.max_known_in_prompt]
        return propose_prompt(request, context.text, known, max(n, self.cfg.formulae_per_call),
                              self.cfg.prompt_version)

    def propose(self, request: Request | str, n: int, seed: int) -> list[FormulaCandidate]:
        request = parse_request(request) if isinstance(request, str) else request
        messages = _messages(self.prompt(request, n), self.cfg.prompt_version)
        rhi = RHi(self.reference)
        found: dict[str, tuple[str, str]] = {}  # reduced -> (formula as written, where)
        last_text = ""
        for call in range(max(1, self.cfg.max_calls)):
            reply = self.client.complete(messages, seed=seed + call)
            last_text = reply.text
            parsed = parse_formula_list(reply.text)
            if parsed.rejected:
                log.info(
                    "reply %d: ignored %d non-formula item(s), e.g. %r",
                    call + 1,
                    len(parsed.rejected),
                    parsed.rejected[0],
                )
            for pos, formula in enumerate(parsed.formulae):
                key = canonical_formula(formula)
                if key is not None and key not in found:
                    found[key] = (formula, f"{self.cfg.model} reply {call + 1}, item {pos + 1}")
            passing = [s for s in rhi.score(request, [f for f, _ in found.values()]) if s.passed]
            if len(passing) >= n:
                break
        if not found:
            raise LLMError(f"the model gave no chemical formulae in {self.cfg.max_calls} replies; "
                           f"the last reply began {last_text[:80]!r}")
        scored = {s.formula: s.passed for s in rhi.score(request, [f for f, _ in found.values()])}
        ordered = sorted(found.values(), key=lambda fw: not scored.get(fw[0], False))[: max(n, 1)]
        m = len(ordered)
        return [
            FormulaCandidate(
                f, 1.0 - i / max(m, 1), (f"proposed by {where}",), f"llm:{self.cfg.model}"
            )
            for i, (f, where) in enumerate(ordered)
        ]


class LLMRanker:
    """R_hi's ranking step: the model orders the formulae; score = 1 - rank / (n - 1)."""

    def __init__(self, cfg: LLMConfig, client: ChatClient | None = None) -> None:
        self.cfg = cfg
        self.client = client or ChatClient(cfg, default_cache(cfg))

    def rank(self, request: Request, formulae: Sequence[str]) -> tuple[list[float], str]:
        if len(formulae) <= 1:
            return [1.0] * len(formulae), "only one formula: nothing to rank"
        reply = self.client.complete(
            _messages(
                rank_prompt(request, list(formulae), self.cfg.prompt_version),
                self.cfg.prompt_version,
            ),
            seed=0,
            temperature=0.0,
        )
        order = [canonical_formula(f) for f in parse_formula_list(reply.text).formulae]
        keys = [canonical_formula(f) for f in formulae]
        ranked = [k for k in dict.fromkeys(order) if k in set(keys)]
        if not ranked:
            raise LLMError("the ranking reply named none of the formulae")
        n = len(formulae)
        position = {k: i for i, k in enumerate(ranked)}
        scores = [1.0 - position[k] / (n - 1) if k in position else 0.0 for k in keys]
        missing = n - len(ranked)
        note = f"ranked by {self.cfg.model}" + (
            f" ({missing} not ranked: score 0)" if missing else ""
        )
        return scores, note
