"""``genms validate <cifs or run folders>`` (Hydra entry point; ``genms eval dft`` builds on it:
:mod:`genms.benchmarks.dft`).

Exit codes: 0 done (individual structures may still have failed: see the table and
``results.jsonl``); 2 unusable config or inputs; 1 nothing could be validated.
"""

from __future__ import annotations

import importlib.util
import logging

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from genms.configs import ConfigError, to_dataclass
from genms.console import fail, make_console, run_dir
from genms.io import atomic_write_json
from genms.parallel.journal import JournalMismatch
from genms.validate.batch import run_validation
from genms.validate.config import ValidateConfig
from genms.validate.inputs import InputError, collect_tasks
from genms.validate.launch import sigterm_as_exit
from genms.validate.mlip import MLIPUnavailable
from genms.validate.report import summarize, table_lines

log = logging.getLogger(__name__)


#: Errors that end the command with their message and exit code 2.
USER_ERRORS = (ConfigError, JournalMismatch, InputError, MLIPUnavailable)


def print_table(console: Console, records: list[dict], title: str, with_mp: bool = False) -> None:
    """The per-structure table of a validation run, then the first errors."""
    lines = table_lines(records, with_mp=with_mp)
    table = Table(title=title)
    for h in lines[0]:
        table.add_column(h, justify="left" if h in ("id", "formula", "status") else "right")
    for row in lines[1:]:
        table.add_row(*row)
    console.print(table)
    errors = [(r["id"], r.get("error")) for r in records if r.get("error")]
    for rid, err in errors[:10]:
        console.print(f"  [yellow]{escape(str(rid))}[/]: {escape(str(err))}")


#: How to install the optional DFT and MLIP backends (README "Optional extras").
INSTALL_GPAW = "`bash scripts/install_dft.sh` (Debian packages + pip gpaw, gpaw-data)"
INSTALL_CHGNET = "`pip install torch==2.13.0 && pip install -e '.[chgnet]'`"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def gpaw_missing(protocol: str, code: str, mlip_enabled: bool = True) -> str | None:
    """Why a ``protocol`` run with the DFT ``code`` (and the CHGNet step when ``mlip_enabled``)
    cannot do anything here, as one line with the install command, or ``None``.

    ``protocol=none`` is the CHGNet step alone, so it needs chgnet; the DFT protocols need GPAW
    (a missing chgnet there only skips the pre-relaxation, with a warning)."""
    chgnet = _installed("chgnet")
    if protocol == "none":
        if not mlip_enabled:
            return ("protocol=none with mlip.enabled=false leaves nothing to run: drop one of "
                    "the two")
        if not chgnet:
            return (f"protocol=none runs only the CHGNet pre-relaxation, and chgnet is not "
                    f"installed: run {INSTALL_CHGNET}")
        return None
    if code != "gpaw" or _installed("gpaw"):
        return None
    if chgnet or not mlip_enabled:
        return (f"GPAW is not installed: run {INSTALL_GPAW}, or use protocol=none for the "
                "CHGNet step only")
    return (f"GPAW is not installed (and neither is chgnet, for the pre-relaxation): run "
            f"{INSTALL_GPAW}, and {INSTALL_CHGNET} for CHGNet")


def validate(cfg: DictConfig) -> int:
    """MLIP pre-relaxation + DFT formation energies for CIFs or ``genms generate`` run folders."""
    console = make_console(160)
    try:
        vcfg = to_dataclass(ValidateConfig, OmegaConf.to_container(cfg, resolve=True))
        tasks = collect_tasks(list(vcfg.inputs), vcfg.top)
        missing = gpaw_missing(vcfg.protocol, vcfg.dft.code, vcfg.mlip.enabled)
        if missing:
            fail(console, missing, 2)
        out_dir = run_dir(vcfg.out_dir)
        console.print(
            f"validating {len(tasks)} structure(s) -> {out_dir}  (dft preset {vcfg.dft.preset}, "
            f"protocol {vcfg.protocol})"
        )
        with sigterm_as_exit():
            run = run_validation(tasks, vcfg, out_dir)
    except USER_ERRORS as exc:
        fail(console, str(exc), 2)
    summary = summarize(run.records)
    atomic_write_json(
        out_dir / "summary.json",
        {
            "summary": summary,
            "settings": vcfg.dft.physics(),
            "preset": vcfg.dft.preset,
            "protocol": vcfg.protocol,
        },
    )
    print_table(console, run.records, f"validation ({run.n_run} run, {run.n_resumed} resumed)")
    console.print(f"results: {out_dir / 'results.jsonl'}  summary: {out_dir / 'summary.json'}")
    if summary["n_structures"] and not any(r.get("status") == "ok" for r in run.records):
        fail(console, "no structure finished successfully (see the errors above)", 1)
    return 0
