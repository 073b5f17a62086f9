"""``genms generate "<request>"`` (Hydra entry point).

Every failure a user can cause ends with a message and an exit code, never a traceback:

* 2 — the config or the request cannot be used (empty, not understood, contradictory);
* 1 — models could not be loaded, or the search found nothing to rank (no formula proposed,
  none survived R_hi, no valid structure) — the run folder still holds the partial results;
* 130 — interrupted; the message says how to resume.
"""

from __future__ import annotations

import logging
import traceback

from omegaconf import DictConfig, OmegaConf
from rich.markup import escape

from genms.configs import ConfigError, to_dataclass
from genms.console import fail, make_console, run_dir, writable_dir
from genms.language.commands import USER_ERRORS as LANGUAGE_ERRORS
from genms.parallel.journal import JournalMismatch
from genms.search.api import GenerateConfig, GenMS
from genms.search.console import progress_bars, ranked_table
from genms.search.errors import LOAD_ERRORS, SearchInputError
from genms.search.language import RequestError, parse

log = logging.getLogger(__name__)




def generate(cfg: DictConfig) -> int:
    """The main job: request -> ranked structures, written to the run folder."""
    console = make_console()
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
    out_dir = run_dir(gcfg.out_dir)
    why = writable_dir(out_dir)
    if why is not None:
        fail(console, f"out_dir={out_dir} cannot be written ({why}); choose a writable folder", 2)
    try:
        with console.status("loading models (π_hi, R_hi, π_lo, R_lo)..."):
            genms = GenMS.from_config(gcfg)
    except (SearchInputError, *LANGUAGE_ERRORS) as exc:
        fail(console, str(exc), 2)
    except LOAD_ERRORS as exc:
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
        console.print(
            ranked_table(
                result,
                gcfg.search.top_k,
                show_cif=True,
                distinct=gcfg.search.distinct_top,
                symprec=gcfg.search.symprec,
                reference=genms.language.reference,
            )
        )
    style = "green" if result.ok else "yellow"
    console.print(f"[{style}]{escape(result.status)}[/]: {escape(result.message)}")
    console.print(
        f"run folder: {out_dir}  (report.html, report.md, candidates.csv, cifs/)", markup=False
    )
    if not result.ok:
        raise SystemExit(1)
    return 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
