"""The Python API: load the models once, then search for any number of requests.

    from genms import api

    genms = api.GenMS.load()                    # shipped denoiser + energy GNN, offline proposer
    result = genms.generate("a novel chloride perovskite with low formation energy", L=16)
    best = result.candidates[0]                 # candidates are sorted best first (also:
    result.best)
    best.structure                              # pymatgen Structure
    best.e_form, best.r_hi, best.score          # eV/atom, R_hi in [0, 1], λ_hi·R_hi + λ_lo·R_lo
    result.to_dataframe()                       # every candidate with every score

``genms generate`` builds the same object from its Hydra config (:meth:`GenMS.from_config`).
``generate(..., out_dir=...)`` also writes the run folder (CIFs, tables, report) and keeps a
journal there, so calling it again with ``resume=True`` finishes an interrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from genms.configs import ranged, typed
from genms.diffusion.config import SamplerConfig
from genms.diffusion.sampler import default_bundle_path, load_sampler
from genms.energy.config import PredictorConfig
from genms.energy.predictor import DEFAULT_BUNDLE, load_predictor
from genms.interfaces import Request
from genms.language.proposer import ProposerConfig
from genms.language.rhi import RHiConfig
from genms.parallel.build import build_executor
from genms.parallel.executor import Executor, ExecutorConfig, WorkerSpec
from genms.parallel.journal import Journal
from genms.paths import PathsConfig, user_cache_dir
from genms.pipeline import PipelineConfig, sampler_options
from genms.search.candidates import SearchResult
from genms.search.config import FilterConfig, SearchConfig
from genms.search.console import LineProgress
from genms.search.errors import SearchInputError
from genms.search.language import LanguageLevel, build_language
from genms.search.report import write_run
from genms.search.tree import (
    ForwardTreeSearch,
    NullProgress,
    Progress,
    energy_worker,
    sampler_worker,
)

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class GenerateConfig(PipelineConfig):
    """The ``genms generate`` config (conf/generate.yaml): the pipeline's groups plus the run's
    keys.

    ``compilation_cache``: JAX's persistent compilation cache folder (``auto`` = the user
    cache's ``jax`` folder, ``null`` = off): later runs skip most compilation.
    """

    request: str = ""
    seed: int = ranged(0, 0, 2**32 - 1)
    device: str = "auto"
    compilation_cache: str | None = "auto"
    out_dir: str | None = None
    resume: bool = False
    report: bool = True

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)} (got {self.device!r})")


def select_device(device: str, compilation_cache: str | None = None) -> str:
    """Pin JAX to ``cpu`` or check a GPU is there (``auto``: JAX's choice). Returns the backend.

    ``compilation_cache`` turns on JAX's persistent compilation cache in that folder (``auto``:
    ``~/.cache/genms/jax``), so a second run reuses the compiled sampler and energy model.
    """
    if compilation_cache:
        folder = (
            user_cache_dir() / "jax"
            if compilation_cache == "auto"
            else Path(compilation_cache).expanduser()
        )
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    if device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    backend = jax.default_backend()
    if device == "gpu" and backend not in ("gpu", "cuda", "rocm"):
        raise SearchInputError(
            f"device=gpu but JAX sees no GPU (backend {backend!r}); use device=auto or device=cpu"
        )
    return backend


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


def _load_sampler(cfg: SamplerConfig):
    return load_sampler(None, cfg)


def _load_predictor(cfg: PredictorConfig):
    return load_predictor(cfg.bundle)


def _model_fingerprint(sampler: SamplerConfig, predictor: PredictorConfig) -> str:
    denoiser = Path(sampler.bundle or default_bundle_path())
    energy = Path(predictor.bundle or DEFAULT_BUNDLE)
    return json.dumps(
        {
            "sampler": sampler_options(sampler),
            "denoiser": _file_digest(denoiser / "bundle.json"),
            "predictor": dataclasses.asdict(predictor),
            "energy": _file_digest(energy / "bundle.json"),
        },
        sort_keys=True,
        default=str,
    )


def _progress(progress: Progress | bool | None) -> Progress:
    if progress is False:
        return NullProgress()
    if progress is None or progress is True:
        return LineProgress()
    return progress


class GenMS:
    """Loaded components of the search; :meth:`generate` runs one request."""

    def __init__(self, language: LanguageLevel, sampler: WorkerSpec, energy: WorkerSpec,
                 executor: Executor | None = None, search: SearchConfig | None = None,
                 fingerprint: str = "") -> None:
        self.language = language
        self.sampler = sampler  # π_lo (sampler_worker)
        self.energy = energy  # R_lo (energy_worker)
        self.executor = executor or build_executor(ExecutorConfig())
        self.search = search or SearchConfig()
        self.fingerprint = fingerprint

    @classmethod
    def load(
        cls,
        sampler: str | dict | SamplerConfig | None = None,
        predictor: str | None = None,
        proposer: dict | ProposerConfig | None = None,
        rhi: dict | RHiConfig | None = None,
        executor: str | ExecutorConfig = "serial",
        device: str = "auto",
        search: SearchConfig | None = None,
        paths: dict | PathsConfig | None = None,
    ) -> GenMS:
        """Load π_hi, R_hi, π_lo and R_lo once.

        Args:
          sampler: denoiser bundle folder, or a ``SamplerConfig`` (or a dict of its fields;
            ``None``: shipped).
          predictor: energy-GNN bundle folder (``None``: shipped).
          proposer / rhi: language-level settings, typed or as dicts of their fields (``None``:
            the offline proposer, the reference formula set from the datasets, R_hi's defaults).
          executor: ``"serial"``, ``"ray"`` or an :class:`ExecutorConfig`.
          device: ``auto`` (JAX's choice, the GPU when there is one), ``cpu`` or ``gpu``.
          search: default search settings (each :meth:`generate` call may override them).
          paths: data and cache folders (``None``: ``auto``).
        """
        if sampler is None or isinstance(sampler, str | Path):
            sampler = {"bundle": None if sampler is None else str(sampler)}
        executor_cfg = (
            executor if isinstance(executor, ExecutorConfig) else ExecutorConfig(name=executor)
        )
        cfg = GenerateConfig(
            device=device,
            search=search or SearchConfig(),
            executor=executor_cfg,
            sampler=typed(SamplerConfig, sampler),
            predictor=PredictorConfig(None if predictor is None else str(predictor)),
            proposer=typed(ProposerConfig, proposer),
            rhi=typed(RHiConfig, rhi),
            paths=typed(PathsConfig, paths),
        )
        return cls.from_config(cfg)

    @classmethod
    def from_config(cls, cfg: GenerateConfig) -> GenMS:
        select_device(cfg.device, cfg.compilation_cache)
        language = build_language(cfg.proposer, cfg.rhi, cfg.paths)
        if cfg.executor.name == "serial":
            # Load here, in this process, once: errors (a missing bundle) surface immediately.
            sampler = sampler_worker(_load_sampler(cfg.sampler))
            energy = energy_worker(_load_predictor(cfg.predictor))
        else:  # each Ray actor loads its own copy
            sampler = sampler_worker(factory=functools.partial(_load_sampler, cfg.sampler))
            energy = energy_worker(factory=functools.partial(_load_predictor, cfg.predictor))
        fingerprint = _model_fingerprint(cfg.sampler, cfg.predictor) + language.fingerprint
        return cls(language, sampler, energy, build_executor(cfg.executor), cfg.search, fingerprint)

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> GenMS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search_config(self, **overrides: Any) -> SearchConfig:
        """The default search settings with ``overrides`` (``H=``, ``lambda_hi=``,
        ``filters=``...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if isinstance(overrides.get("filters"), dict):
            overrides["filters"] = FilterConfig(**overrides["filters"])
        try:
            return dataclasses.replace(self.search, **overrides)
        except (TypeError, ValueError) as exc:
            raise SearchInputError(str(exc)) from exc

    def generate(
        self,
        request: str | Request,
        *,
        seed: int = 0,
        out_dir: str | Path | None = None,
        resume: bool = False,
        report: bool = True,
        progress: Progress | bool | None = None,
        config: dict | None = None,
        **search: Any,
    ) -> SearchResult:
        """Run the search for ``request`` (text, or a parsed ``Request``).

        ``search`` overrides the search settings (``H``, ``W``, ``L``, ``lambda_hi``,
        ``lambda_lo``, ``strategy``, ``formula_units``, ``filters``...). With ``out_dir`` the run
        folder is written there; ``resume=True`` continues a run interrupted in that folder.
        ``progress``: where each stage's progress goes (count, elapsed time, ETA, what it is
        doing: compiling, sampling...); by default plain lines on stderr
        (:class:`~genms.search.console.LineProgress`); ``False`` for silence.
        Raises :class:`SearchInputError` (or the language level's ``RequestError``) for a request
        that cannot be searched; a search that finds nothing returns a result whose ``status``
        and ``message`` say why, with every partial result.
        """
        cfg = self.search_config(**search)
        parsed, text = self.language.parse(request)
        journal = None
        if out_dir is not None:
            journal = self._journal(Path(out_dir), text, seed, cfg, resume)
        tree = ForwardTreeSearch(
            self.language.proposer,
            self.language.scorer,
            self.sampler,
            self.energy,
            cfg,
            self.executor,
            journal,
            _progress(progress),
        )
        result = tree.run(parsed, seed=seed, request_text=text)
        if out_dir is not None:
            resolved = config if config is not None else {"request": text, "seed": seed,
                                                          "search": dataclasses.asdict(cfg)}
            write_run(
                result,
                out_dir,
                resolved,
                top_k=cfg.top_k,
                pictures=report,
                distinct=cfg.distinct_top,
                symprec=cfg.symprec,
                reference=self.language.reference,
            )
        return result

    def _journal(
        self, out_dir: Path, text: str, seed: int, cfg: SearchConfig, resume: bool
    ) -> Journal:
        path = out_dir / "journal.jsonl"
        if path.exists() and not resume:
            raise SearchInputError(
                f"{out_dir} already holds a run; pass resume=true to continue it or choose another "
                "out_dir"
            )
        # Everything that changes results (top_k, distinct_top and symprec only change what is
        # shown).
        settings = dataclasses.asdict(
            dataclasses.replace(cfg, top_k=1, distinct_top=True, symprec=0.1)
        )
        payload = json.dumps({"request": text, "seed": seed, "search": settings,
                              "models": self.fingerprint}, sort_keys=True, default=str)
        return Journal(path, hashlib.sha256(payload.encode()).hexdigest()[:24])
