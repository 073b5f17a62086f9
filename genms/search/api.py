"""The Python API: load the models once, then search for any number of requests.

    from genms import api

    genms = api.GenMS.load()                    # shipped denoiser + energy GNN, offline proposer
    result = genms.generate("a novel chloride perovskite with low formation energy", L=16)
    best = result.ranked[0]
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genms.parallel.executor import Executor, ExecutorConfig, build_executor
from genms.parallel.journal import Journal
from genms.search.candidates import SearchResult
from genms.search.config import FilterConfig, SearchConfig
from genms.search.errors import SearchInputError
from genms.search.language import LanguageLevel, build_language
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
class GenerateConfig:
    """The ``genms generate`` config (conf/generate.yaml), typed.

    ``compilation_cache``: JAX's persistent compilation cache folder (``auto`` = the user
    cache's ``jax`` folder, ``null`` = off): later runs skip most compilation.
    ``sampler`` holds :class:`genms.diffusion.config.SamplerConfig` fields (``bundle`` = the
    denoiser bundle folder, ``null`` = shipped; ``steps``...); ``predictor.bundle`` the energy
    GNN bundle; ``proposer`` (π_hi and its reference formulae) and ``rhi`` are the language
    level's settings (:class:`genms.language.proposer.ProposerConfig`,
    :class:`genms.language.rhi.RHiConfig`).
    """

    request: str = ""
    seed: int = 0
    device: str = "auto"
    compilation_cache: str | None = "auto"
    out_dir: str | None = None
    resume: bool = False
    report: bool = True
    search: SearchConfig = field(default_factory=SearchConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    sampler: dict[str, Any] = field(default_factory=dict)
    predictor: dict[str, Any] = field(default_factory=dict)
    proposer: dict[str, Any] = field(default_factory=dict)
    rhi: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)} (got {self.device!r})")


def select_device(device: str, compilation_cache: str | None = None) -> str:
    """Pin JAX to ``cpu`` or check a GPU is there (``auto``: JAX's choice). Returns the backend.

    ``compilation_cache`` turns on JAX's persistent compilation cache in that folder (``auto``:
    ``~/.cache/genms/jax``), so a second run reuses the compiled sampler and energy model.
    """
    import jax

    if compilation_cache:
        from genms.paths import user_cache_dir

        folder = user_cache_dir() / "jax" if compilation_cache == "auto" else Path(compilation_cache).expanduser()
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    if device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    backend = jax.default_backend()
    if device == "gpu" and backend not in ("gpu", "cuda", "rocm"):
        raise SearchInputError(f"device=gpu but JAX sees no GPU (backend {backend!r}); use device=auto or device=cpu")
    return backend


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


def _load_sampler(options: dict[str, Any]):
    from genms.configs import to_dataclass
    from genms.diffusion.config import SamplerConfig
    from genms.diffusion.sampler import load_sampler

    return load_sampler(None, to_dataclass(SamplerConfig, options))


def _load_predictor(options: dict[str, Any]):
    from genms.energy.predictor import load_predictor

    return load_predictor(options.get("bundle"))


def _model_fingerprint(sampler_options: dict, predictor_options: dict) -> str:
    from genms.diffusion.sampler import default_bundle_path
    from genms.energy.predictor import DEFAULT_BUNDLE

    denoiser = Path(sampler_options.get("bundle") or default_bundle_path())
    energy = Path(predictor_options.get("bundle") or DEFAULT_BUNDLE)
    return json.dumps({"sampler": sampler_options, "denoiser": _file_digest(denoiser / "bundle.json"),
                       "predictor": predictor_options, "energy": _file_digest(energy / "bundle.json")},
                      sort_keys=True, default=str)


class GenMS:
    """Loaded components of the search; :meth:`generate` runs one request."""

    def __init__(self, language: LanguageLevel, sampler, energy, executor: Executor | None = None,
                 search: SearchConfig | None = None, fingerprint: str = "") -> None:
        self.language = language
        self.sampler = sampler  # WorkerSpec
        self.energy = energy  # WorkerSpec
        self.executor = executor or build_executor(ExecutorConfig())
        self.search = search or SearchConfig()
        self.fingerprint = fingerprint

    @classmethod
    def load(
        cls,
        sampler: str | dict | None = None,
        predictor: str | None = None,
        proposer: dict | None = None,
        rhi: dict | None = None,
        executor: str | ExecutorConfig = "serial",
        device: str = "auto",
        search: SearchConfig | None = None,
        paths: dict | None = None,
    ) -> GenMS:
        """Load π_hi, R_hi, π_lo and R_lo once.

        Args:
          sampler: denoiser bundle folder, or a dict of ``SamplerConfig`` fields (``None``: shipped).
          predictor: energy-GNN bundle folder (``None``: shipped).
          proposer / rhi: language-level settings (``None``: the offline proposer, the
            reference formula set from the datasets, R_hi's default weights).
          executor: ``"serial"``, ``"ray"`` or an :class:`ExecutorConfig`.
          device: ``auto`` (JAX's choice, the GPU when there is one), ``cpu`` or ``gpu``.
          search: default search settings (each :meth:`generate` call may override them).
        """
        sampler_options = dict(sampler) if isinstance(sampler, dict) else {"bundle": sampler}
        executor_cfg = executor if isinstance(executor, ExecutorConfig) else ExecutorConfig(name=executor)
        cfg = GenerateConfig(device=device, search=search or SearchConfig(), executor=executor_cfg,
                             sampler=sampler_options, predictor={"bundle": predictor},
                             proposer=dict(proposer or {}), rhi=dict(rhi or {}),
                             paths=dict(paths or {}))
        return cls.from_config(cfg)

    @classmethod
    def from_config(cls, cfg: GenerateConfig) -> GenMS:
        select_device(cfg.device, cfg.compilation_cache)
        language = build_language(cfg.proposer, cfg.rhi, cfg.paths)
        sampler_options = {k: v for k, v in cfg.sampler.items() if v is not None}
        predictor_options = dict(cfg.predictor)
        if cfg.executor.name == "serial":
            # Load here, in this process, once: errors (a missing bundle) surface immediately.
            sampler = sampler_worker(_load_sampler(sampler_options))
            energy = energy_worker(_load_predictor(predictor_options))
        else:  # each Ray actor loads its own copy
            sampler = sampler_worker(factory=functools.partial(_load_sampler, sampler_options))
            energy = energy_worker(factory=functools.partial(_load_predictor, predictor_options))
        fingerprint = _model_fingerprint(sampler_options, predictor_options) + language.fingerprint
        return cls(language, sampler, energy, build_executor(cfg.executor), cfg.search, fingerprint)

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> GenMS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search_config(self, **overrides: Any) -> SearchConfig:
        """The default search settings with ``overrides`` (``H=``, ``lambda_hi=``, ``filters=``...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if isinstance(overrides.get("filters"), dict):
            overrides["filters"] = FilterConfig(**overrides["filters"])
        try:
            return dataclasses.replace(self.search, **overrides)
        except (TypeError, ValueError) as exc:
            raise SearchInputError(str(exc)) from exc

    def generate(
        self,
        request: str | Any,
        *,
        seed: int = 0,
        out_dir: str | Path | None = None,
        resume: bool = False,
        report: bool = True,
        progress: Progress | None = None,
        config: dict | None = None,
        **search: Any,
    ) -> SearchResult:
        """Run the search for ``request`` (text, or a parsed ``Request``).

        ``search`` overrides the search settings (``H``, ``W``, ``L``, ``lambda_hi``,
        ``lambda_lo``, ``strategy``, ``formula_units``, ``filters``...). With ``out_dir`` the run
        folder is written there; ``resume=True`` continues a run interrupted in that folder.
        Raises :class:`SearchInputError` (or the language level's ``RequestError``) for a request
        that cannot be searched; a search that finds nothing returns a result whose ``status``
        and ``message`` say why, with every partial result.
        """
        cfg = self.search_config(**search)
        parsed, text = self.language.parse(request)
        journal = None
        if out_dir is not None:
            journal = self._journal(Path(out_dir), text, seed, cfg, resume)
        tree = ForwardTreeSearch(self.language.proposer, self.language.scorer, self.sampler, self.energy,
                                 cfg, self.executor, journal, progress or NullProgress())
        result = tree.run(parsed, seed=seed, request_text=text)
        if out_dir is not None:
            from genms.search.report import write_run

            resolved = config if config is not None else {"request": text, "seed": seed,
                                                          "search": dataclasses.asdict(cfg)}
            write_run(result, out_dir, resolved, top_k=cfg.top_k, pictures=report, distinct=cfg.distinct_top,
                      symprec=cfg.symprec, reference=self.language.reference)
        return result

    def _journal(self, out_dir: Path, text: str, seed: int, cfg: SearchConfig, resume: bool) -> Journal:
        path = out_dir / "journal.jsonl"
        if path.exists() and not resume:
            raise SearchInputError(
                f"{out_dir} already holds a run; pass resume=true to continue it or choose another out_dir")
        # Everything that changes results (top_k, distinct_top and symprec only change what is shown).
        settings = dataclasses.asdict(dataclasses.replace(cfg, top_k=1, distinct_top=True, symprec=0.1))
        payload = json.dumps({"request": text, "seed": seed, "search": settings,
                              "models": self.fingerprint}, sort_keys=True, default=str)
        return Journal(path, hashlib.sha256(payload.encode()).hexdigest()[:24])
