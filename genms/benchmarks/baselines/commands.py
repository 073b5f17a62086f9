"""``genms eval baselines``: Table 1's offline baselines, scored exactly like GenMS.

For each family request (perovskite, pyrochlore, spinel) and each baseline, the search runs with
π_lo replaced by the baseline sampler: the same language level proposes and ranks the same
formulae (same H, W, seed), the baseline builds L structures for each expanded formula, and the
same filters and energy model rank them. The Table 1 metrics are computed by the end-to-end
benchmark's own :func:`genms.benchmarks.end_to_end.structure_metrics`:

* ``sampled`` — every structure the baseline produced (what the paper's baselines report: raw
  outputs, no filtering);
* top level — the structures the search returns (``evaluate``, default the best structure per
  expanded formula), i.e. the baseline as a drop-in π_lo inside GenMS.

Writes ``output`` (JSON, one object per baseline and family) and logs each (baseline, family)
run with :class:`~genms.tracking.reports.ExperimentRun` (W&B offline by default).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from genms.benchmarks.baselines.prototypes import PrototypeConfig
from genms.benchmarks.baselines.random_symmetric import RandomSymmetricSampler
from genms.benchmarks.baselines.template import TemplateSubstitutionSampler
from genms.benchmarks.end_to_end import (
    FamilyRequest,
    answer_and_sampled_metrics,
    evaluated_structures,
)
from genms.benchmarks.families import family_references
from genms.configs import ConfigError, ranged, to_dataclass
from genms.energy.predictor import load_predictor
from genms.evaluate.matching import MatchConfig
from genms.io import atomic_write_json
from genms.language.families import get_family
from genms.parallel.build import build_executor
from genms.pipeline import PipelineConfig
from genms.search.api import GenMS, select_device
from genms.search.language import build_language
from genms.search.tree import energy_worker, sampler_worker
from genms.tracking.reports import ExperimentRun, ReportConfig, SweepPointInfo

log = logging.getLogger(__name__)

BASELINES = ("template", "random")


def _default_families() -> list[FamilyRequest]:
    return [FamilyRequest(f, f"a novel stable {f}") for f in ("perovskite", "pyrochlore", "spinel")]


@dataclass(frozen=True)
class RandomBaselineConfig:
    """``random``: PyXtal settings (``space_groups``: ``family`` = the family's groups, ``all`` =
    1-230)."""

    space_groups: str = "family"
    max_atoms: int = ranged(40, 1, 1000)
    max_tries: int = ranged(30, 1, 100_000)


@dataclass(frozen=True)
class EvalBaselinesConfig(PipelineConfig):
    """conf/eval_baselines.yaml: the pipeline's groups (as in ``genms generate``; each baseline
    takes the place of ``sampler``, π_lo) plus these keys."""

    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    families: list[FamilyRequest] = field(default_factory=_default_families)
    seed: int = ranged(0, 0, 2**32 - 1)
    device: str = "cpu"
    evaluate: str = "best_per_formula"
    output: str = "benchmarks/results/baselines.json"
    run_dir: str | None = "runs/eval_baselines"  # per (baseline, family): the search's run folder
    match_workers: int = ranged(2, -1, 1024)  # <= 1: in this process; -1: every core
    match_timeout_s: float = ranged(30.0, 0, 86_400)  # 0: no limit
    max_references: int | None = ranged(None, 1, 10**7)
    sampled_match_max: int = ranged(400, 0, 10**7)
    prototypes: PrototypeConfig = field(default_factory=PrototypeConfig)
    random: RandomBaselineConfig = field(default_factory=RandomBaselineConfig)
    report: ReportConfig = field(default_factory=lambda: ReportConfig(wandb=False))

    def __post_init__(self) -> None:
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(f"unknown baselines {unknown}; choose from {list(BASELINES)}")
        if self.random.space_groups not in ("family", "all"):
            raise ValueError("random.space_groups must be 'family' or 'all'")


def build_baseline(name: str, family: str, cfg: EvalBaselinesConfig):
    """The StructureSampler of baseline ``name`` for ``family``."""
    if name == "template":
        return TemplateSubstitutionSampler.for_family(family, cfg.prototypes)

    groups = get_family(family).space_groups if cfg.random.space_groups == "family" else None
    return RandomSymmetricSampler(
        groups, max_atoms=cfg.random.max_atoms, max_tries=cfg.random.max_tries
    )


def run_baselines(cfg: EvalBaselinesConfig, say=log.info, predictor: Any = None) -> dict:
    """Every (baseline, family) search; returns the report written to ``cfg.output``.

    ``predictor``: an EnergyPredictor to use instead of loading ``cfg.predictor.bundle``.
    """
    select_device(cfg.device)
    language = build_language(cfg.proposer, cfg.rhi, cfg.paths)
    energy = energy_worker(
        predictor if predictor is not None else load_predictor(cfg.predictor.bundle)
    )
    known = language.reference  # the known formulae R_hi's uniqueness check uses
    match_cfg = MatchConfig(timeout_s=cfg.match_timeout_s)
    report: dict[str, Any] = {}
    for fam in cfg.families:
        refs = family_references(fam.family, cfg.paths, cfg.max_references)
        for name in cfg.baselines:
            sampler = sampler_worker(build_baseline(name, fam.family, cfg))
            start = time.perf_counter()
            out_dir = Path(cfg.run_dir) / name / fam.family if cfg.run_dir else None
            # A fresh executor per baseline: executors cache their workers by name ("sampler").
            with GenMS(language, sampler, energy, build_executor(cfg.executor), cfg.search,
                       fingerprint=f"baseline={name}") as genms:
                result = genms.generate(
                    fam.request,
                    seed=cfg.seed,
                    out_dir=out_dir,
                    resume=out_dir is not None and (out_dir / "journal.jsonl").exists(),
                )
            seconds = time.perf_counter() - start
            entry = answer_and_sampled_metrics(
                evaluated_structures(result, cfg.evaluate),
                result.candidates,
                refs,
                known,
                match_cfg,
                cfg,
            )
            entry.update(
                {
                    "baseline": name,
                    "family": fam.family,
                    "request": fam.request,
                    "status": result.status,
                    "search_s": round(seconds, 3),
                    "n_references": refs.n,
                    "formulae": sorted({c.formula for c in result.candidates}),
                }
            )
            report.setdefault(name, {})[fam.family] = entry
            say(
                f"{name:9s} {fam.family:11s} sampled: "
                + ", ".join(
                    f"{k} {entry['sampled'][k]:.2f}"
                    for k in (
                        "cif_validity",
                        "structural_validity",
                        "composition_validity",
                        "uniqueness",
                        "match_rate",
                    )
                    if entry["sampled"].get(k) is not None
                )
            )
            if cfg.report.wandb and out_dir is not None:
                run_dir = out_dir / "tracking"
                point = SweepPointInfo("", "", None, {"baseline": name, "family": fam.family})
                with ExperimentRun(
                    run_dir,
                    "table1_end_to_end",
                    dataclasses.asdict(cfg),
                    report=cfg.report,
                    point=point,
                ) as run:
                    run.log_metrics(
                        {k: v for k, v in entry["sampled"].items() if isinstance(v, (int, float))}
                    )
                    run.log_table("candidates", [c.to_record() for c in result.candidates])
                    top = result.ranked[: cfg.report.top_k_pictures]
                    run.log_structures(
                        "top_structures", [c.crystal for c in top], [c.id for c in top]
                    )
    report["meta"] = {
        "seed": cfg.seed,
        "evaluate": cfg.evaluate,
        "search": dataclasses.asdict(cfg.search),
        "random": dataclasses.asdict(cfg.random),
        "prototypes": dataclasses.asdict(cfg.prototypes),
    }
    atomic_write_json(cfg.output, report)
    report["output"] = cfg.output
    return report


def eval_baselines(cfg) -> int:
    """Runner of ``genms eval baselines``."""
    try:
        bcfg = to_dataclass(EvalBaselinesConfig, OmegaConf.to_container(cfg, resolve=True))
    except (ConfigError, ValueError) as exc:
        raise SystemExit(f"genms eval baselines: {exc}") from None
    try:
        report = run_baselines(bcfg, say=print)
    except (ImportError, FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"genms eval baselines: {exc}") from None
    print(f"wrote {report['output']}")  # noqa: T201 - the command's user-facing output
    return 0
