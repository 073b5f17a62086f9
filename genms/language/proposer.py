"""Building the language level from config: the proposer, its reference set and R_hi's ranker.

``build_proposer(cfg)`` returns a :class:`~genms.interfaces.FormulaProposer`:
``offline`` (default; data-driven ion substitution, no network) or ``llm`` (any
OpenAI-compatible chat endpoint). Both carry the reference formula set they were built with
(``proposer.reference``), which R_hi's uniqueness check uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genms.configs import ConfigError, typed
from genms.data.reference import ReferenceConfig, ReferenceFormulae, load_reference
from genms.interfaces import FormulaProposer
from genms.language.llm import LLMProposer, LLMRanker
from genms.language.llm_client import LLMConfig
from genms.language.offline import OfflineConfig, OfflineProposer
from genms.language.retrieval import RetrievalConfig
from genms.language.rhi import Ranker

BACKENDS = ("offline", "llm")


@dataclass(frozen=True)
class ProposerConfig:
    backend: str = "offline"  # offline | llm
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)


def as_config(cfg: ProposerConfig | Mapping | None) -> ProposerConfig:
    """A :class:`ProposerConfig` from itself, a dict or a DictConfig node (validated)."""
    return typed(ProposerConfig, cfg)


def build_reference(cfg: ProposerConfig | Mapping | None, data_dir: str | None = "auto",
                    cache_dir: str | Path | None = "auto") -> ReferenceFormulae:
    return load_reference(as_config(cfg).reference, data_dir, cache_dir)


def build_proposer(
    cfg: ProposerConfig | Mapping | None,
    reference: ReferenceFormulae | None = None,
    data_dir: str | None = "auto",
    cache_dir: str | Path | None = "auto",
) -> FormulaProposer:
    """The configured proposer (``reference`` is built from ``cfg.reference`` when not given).

    ``cfg`` may also be a plain dict / DictConfig with the same keys (``{}``: all defaults).
    """
    cfg = as_config(cfg)
    if cfg.backend not in BACKENDS:
        raise ConfigError(f"proposer.backend={cfg.backend!r}: use one of {', '.join(BACKENDS)}")
    reference = reference if reference is not None else build_reference(cfg, data_dir, cache_dir)
    if cfg.backend == "offline":
        return OfflineProposer(cfg.offline, reference)

    return LLMProposer(cfg.llm, reference, cfg.retrieval)


def build_ranker(cfg: ProposerConfig | Mapping | None) -> Ranker | None:
    """R_hi's LLM ranker when the llm backend is used with ``llm.rank``; else None (likelihood
    only)."""
    cfg = as_config(cfg)
    if cfg.backend != "llm" or not cfg.llm.rank:
        return None

    return LLMRanker(cfg.llm)
