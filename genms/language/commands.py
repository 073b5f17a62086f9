"""Runner of ``genms propose "<request>"`` (called by ``genms.cli``).

Bad input (an empty, nonsensical or contradictory request, an unreachable LLM endpoint, a bad
config value) ends the command with a one-line message naming the fix, never a traceback.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from omegaconf import DictConfig
from rich.console import Console

from genms.configs import ConfigError, ranged, typed
from genms.console import exit_with
from genms.data.reference import ReferenceError
from genms.io import atomic_write_json
from genms.language.display import render_scored
from genms.language.llm_client import LLMError
from genms.language.prompts import PromptError
from genms.language.proposer import ProposerConfig, build_proposer, build_ranker, build_reference
from genms.language.request import MAX_COUNT, RequestError, parse_request
from genms.language.rhi import RHi, RHiConfig, ScoredFormula
from genms.paths import PathsConfig

log = logging.getLogger(__name__)

#: Errors that end a command with their message (they all name the problem and the fix).
USER_ERRORS = (RequestError, ConfigError, LLMError, ReferenceError, PromptError)


@dataclass(frozen=True)
class ProposeConfig:
    """``genms propose`` (conf/propose.yaml).

    Attributes:
      request: the request in plain language.
      n: formulae to propose (a count in the request wins: "give me 5 perovskites").
      seed: the proposer's seed.
      show_rejected: also print candidates that fail a hard R_hi check.
      output: a JSON file with every check of every formula (``None``: none).
    """

    request: str = ""
    n: int = ranged(10, 1, MAX_COUNT)
    seed: int = ranged(0, 0, 2**32 - 1)
    show_rejected: bool = False
    output: str | None = None
    proposer: ProposerConfig = field(default_factory=ProposerConfig)
    rhi: RHiConfig = field(default_factory=RHiConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def run_propose(cfg: ProposeConfig | DictConfig) -> tuple[object, list[ScoredFormula], dict]:
    """Parse, propose and score; returns (request, scored formulae, timings)."""
    cfg = typed(ProposeConfig, cfg)
    if not cfg.request.strip():
        raise RequestError('no request given; e.g. genms propose "a novel chloride perovskite"')
    t0 = time.perf_counter()
    request = parse_request(cfg.request)
    reference = build_reference(cfg.proposer, cfg.paths.data_dir, cfg.paths.cache_dir)
    t_ref = time.perf_counter()
    proposer = build_proposer(cfg.proposer, reference)
    n = request.count or cfg.n
    candidates = proposer.propose(request, n, cfg.seed)
    t_prop = time.perf_counter()
    rhi = RHi(reference, cfg.rhi, build_ranker(cfg.proposer))
    scored = rhi.score(request, candidates)
    timings = {"parse_and_reference_s": t_ref - t0, "propose_s": t_prop - t_ref,
               "rhi_s": time.perf_counter() - t_prop}
    return (request, reference), scored, timings


def propose(cfg: DictConfig) -> list[ScoredFormula]:
    """``genms propose "<request>"``: ranked formulae with every R_hi check's reason."""
    console = Console(highlight=False, soft_wrap=True)
    start = time.perf_counter()
    try:
        cfg = typed(ProposeConfig, cfg)
        (request, reference), scored, timings = run_propose(cfg)
    except USER_ERRORS as exc:
        exit_with(f"genms propose: {exc}")
    console.print(request.describe(), markup=False)
    console.print(f"reference: {reference.describe()}", markup=False)
    passed = [s for s in scored if s.passed]
    elapsed = time.perf_counter() - start
    if not passed:
        console.print(render_scored(scored, show_rejected=True), markup=False)
        exit_with(
            "genms propose: no formula satisfies the request; relax a constraint (fewer required "
            "elements, no novelty, another family) or try another seed"
        )
    console.print(render_scored(scored, cfg.show_rejected), markup=False)
    console.print(f"{len(passed)} formula(e) in {elapsed:.1f} s", markup=False)
    if cfg.output:
        path = atomic_write_json(
            cfg.output,
            {
                "request": request.to_dict(),
                "reference": reference.describe(),
                "timings_s": timings,
                "results": [s.to_dict() for s in scored],
            },
        )
        console.print(f"wrote {path}", markup=False)
    return scored
