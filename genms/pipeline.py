"""The typed config of the search pipeline, shared by every command that runs it.

    request ──proposer (π_hi)──> formulae ──rhi (R_hi)──> ranked ──sampler (π_lo)──> structures
        ──predictor (R_lo)──> ranked candidates          (search: branching, weights, filters)

Each field is one Hydra config group (``conf/<field>/*.yaml``); ``genms generate``,
``genms eval end-to-end`` and ``genms eval baselines`` extend :class:`PipelineConfig` with
their own keys, so the same node means the same thing in every command.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields

from genms.diffusion.config import SamplerConfig
from genms.energy.config import PredictorConfig
from genms.language.proposer import ProposerConfig
from genms.language.rhi import RHiConfig
from genms.parallel.executor import ExecutorConfig
from genms.paths import PathsConfig
from genms.search.config import SearchConfig

#: Config group name -> the schema of its options (registered with Hydra's ConfigStore).
GROUPS: dict[str, type] = {
    "search": SearchConfig,
    "executor": ExecutorConfig,
    "sampler": SamplerConfig,
    "predictor": PredictorConfig,
    "proposer": ProposerConfig,
    "rhi": RHiConfig,
    "paths": PathsConfig,
}


@dataclass(frozen=True)
class PipelineConfig:
    """π_hi, R_hi, π_lo, R_lo, the search over them, where it runs and where the data is.

    Attributes:
      search: branching factors, score weights, filters (:class:`genms.search.config.SearchConfig`).
      executor: serial or Ray (:class:`genms.parallel.executor.ExecutorConfig`).
      sampler: the denoiser bundle and its inference settings
        (:class:`genms.diffusion.config.SamplerConfig`; ``None`` fields: the bundle's values).
      predictor: the energy-GNN bundle (:class:`genms.energy.config.PredictorConfig`).
      proposer: π_hi and its reference formulae (:class:`genms.language.proposer.ProposerConfig`).
      rhi: R_hi's weights and hard checks (:class:`genms.language.rhi.RHiConfig`).
      paths: data and cache folders (:class:`genms.paths.PathsConfig`).
    """

    search: SearchConfig = field(default_factory=SearchConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    proposer: ProposerConfig = field(default_factory=ProposerConfig)
    rhi: RHiConfig = field(default_factory=RHiConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def pipeline_of(cfg: PipelineConfig) -> dict:
    """The pipeline's fields of ``cfg`` (a command config extending :class:`PipelineConfig`),
    as keyword arguments for another such config."""
    return {f.name: getattr(cfg, f.name) for f in fields(PipelineConfig)}


def sampler_options(sampler: SamplerConfig) -> dict:
    """The sampler settings that differ from :class:`SamplerConfig`'s defaults (JSON-compared),
    so a setting added later with a default does not change a fingerprint."""
    default = json.loads(json.dumps(dataclasses.asdict(SamplerConfig())))
    given = json.loads(json.dumps(dataclasses.asdict(sampler)))
    return {k: v for k, v in given.items() if v != default[k]}
