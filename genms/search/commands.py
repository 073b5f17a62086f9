"""``genms generate "<request>"`` and ``genms eval end-to-end`` (Hydra entry points).

Every failure a user can cause ends with a message and an exit code, never a traceback:

* 2 — the config or the request cannot be used (empty, not understood, contradictory);
* 1 — models could not be loaded, or the search found nothing to rank (no formula proposed,
  none survived R_hi, no valid structure) — the run folder still holds the partial results;
* 130 — interrupted; the message says how to resume.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import NoReturn

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def _console():
    import sys

    from rich.console import Console

    # Piped output (logs, CI) gets a wide fixed width so the table is not truncated.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def fail(console, message: str, code: int) -> NoReturn:
    from rich.markup import escape

    console.print(f"[bold red]genms:[/] {escape(message)}", soft_wrap=True)  # one line; not markup
    raise SystemExit(code)


def writable_dir(path: Path) -> str | None:
    """Create ``path`` and check that a file can be written in it; the reason when not."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _run_dir(cfg: DictConfig) -> Path:
    if cfg.get("out_dir"):
        return Path(str(cfg.out_dir)).expanduser()
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def _load_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "a model or data file is missing or unusable"."""
    return (FileNotFoundError, OSError, ValueError, KeyError)


def generate(cfg: DictConfig) -> int:
    """The main job: request -> ranked structures, written to the run folder."""
    from rich.markup import escape

    from genms.configs import ConfigError, to_dataclass
    from genms.language.commands import USER_ERRORS as LANGUAGE_ERRORS
    from genms.parallel.journal import JournalMismatch
    from genms.search.api import GenerateConfig, GenMS
    from genms.search.console import progress_bars, ranked_table
    from genms.search.errors import SearchInputError
    from genms.search.language import RequestError, parse

    console = _console()
    try:
        gcfg = to_dataclass(GenerateConfig, OmegaConf.to_container(cfg, resolve=True))
    except ConfigError as exc:
        fail(console, str(exc), 2)
    try:  # the request first: a bad one fails in a second, before any model loads
        parsed, text = parse(gcfg.request)
    except RequestError as exc:
        fail(console, str(exc), 2)
    console.print(str(parsed), markup=False)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "no TPU" chatter
    out_dir = _run_dir(cfg)
    why = writable_dir(out_dir)
    if why is not None:
        fail(console, f"out_dir={out_dir} cannot be written ({why}); choose a writable folder", 2)
    try:
        with console.status("loading models (π_hi, R_hi, π_lo, R_lo)..."):
            genms = GenMS.from_config(gcfg)
    except (SearchInputError, *LANGUAGE_ERRORS) as exc:
        fail(console, str(exc), 2)
    except _load_errors() as exc:
        fail(console, f"could not load the models: {exc}", 1)
    try:
        with genms, progress_bars(console) as progress:
            result = genms.generate(parsed, seed=gcfg.seed, out_dir=out_dir, resume=gcfg.resume,
                                    report=gcfg.report, progress=progress,
                                    config=OmegaConf.to_container(cfg, resolve=True))
    except (SearchInputError, JournalMismatch, *LANGUAGE_ERRORS) as exc:
        fail(console, str(exc), 2)
    except KeyboardInterrupt:
        fail(console, f"interrupted. Finished work is kept in {out_dir}; continue with\n"
                      f"  genms generate {_quote(text)} out_dir={out_dir} resume=true", 130)
    except Exception as exc:  # an unexpected failure: a message, the traceback to a file
        details = out_dir / "error.log"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            details.write_text(traceback.format_exc())
            where = f"details in {details}"
        except OSError as write_exc:
            where = f"{details} could not be written: {write_exc.strerror or write_exc}"
        fail(console, f"the search failed: {type(exc).__name__}: {exc} ({where})", 1)

    if result.ranked:
        console.print(ranked_table(result, gcfg.search.top_k, show_cif=True, distinct=gcfg.search.distinct_top,
                                   symprec=gcfg.search.symprec, reference=genms.language.reference))
    style = "green" if result.ok else "yellow"
    console.print(f"[{style}]{escape(result.status)}[/]: {escape(result.message)}")
    console.print(f"run folder: {out_dir}  (report.html, report.md, candidates.csv, cifs/)", markup=False)
    if not result.ok:
        raise SystemExit(1)
    return 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def eval_end_to_end(cfg: DictConfig) -> int:
    """Family benchmark (perovskite, pyrochlore, spinel) -> benchmarks/results/end_to_end.json."""
    from genms.configs import ConfigError, to_dataclass
    from genms.search.benchmark import EndToEndConfig, run_end_to_end

    console = _console()
    try:
        ecfg = to_dataclass(EndToEndConfig, OmegaConf.to_container(cfg, resolve=True))
    except ConfigError as exc:
        fail(console, str(exc), 2)
    try:
        report = run_end_to_end(ecfg, console=console, command=_command_line(cfg))
    except _load_errors() as exc:
        fail(console, f"the benchmark could not run: {exc}", 1)
    console.print(f"wrote {report['output']}", markup=False)
    return 0


def _command_line(cfg: DictConfig) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:  # not under Hydra
        overrides = []
    return " ".join(["genms eval end-to-end", *overrides])
