"""``genms validate <cifs or run folders>`` and ``genms eval dft`` (Hydra entry points).

Exit codes: 0 done (individual structures may still have failed: see the table and
``results.jsonl``); 2 unusable config or inputs; 1 nothing could be validated.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import NoReturn

from omegaconf import DictConfig, OmegaConf

from genms.io import atomic_write_json
from genms.validate.launch import sigterm_as_exit

log = logging.getLogger(__name__)


def _console():
    import sys

    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def fail(console, message: str, code: int) -> NoReturn:
    console.print(f"[bold red]genms:[/] {message}")
    raise SystemExit(code)


def _out_dir(value: str | None) -> Path:
    if value:
        return Path(value).expanduser()
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def _user_errors() -> tuple[type[BaseException], ...]:
    from genms.configs import ConfigError
    from genms.parallel.journal import JournalMismatch
    from genms.validate.inputs import InputError
    from genms.validate.mlip import MLIPUnavailable

    return (ConfigError, JournalMismatch, InputError, MLIPUnavailable)


def _print_table(console, records: list[dict], title: str, with_mp: bool = False) -> None:
    from rich.table import Table

    from genms.validate.report import table_lines

    lines = table_lines(records, with_mp=with_mp)
    table = Table(title=title)
    for h in lines[0]:
        table.add_column(h, justify="left" if h in ("id", "formula", "status") else "right")
    for row in lines[1:]:
        table.add_row(*row)
    console.print(table)
    errors = [(r["id"], r.get("error")) for r in records if r.get("error")]
    for rid, err in errors[:10]:
        console.print(f"  [yellow]{rid}[/]: {err}")


def _gpaw_missing(cfg) -> str | None:
    if cfg.protocol == "none" or cfg.dft.code != "gpaw":
        return None
    import importlib.util

    if importlib.util.find_spec("gpaw") is None:
        return ("GPAW is not installed: run `bash scripts/install_dft.sh` (Debian packages + pip gpaw, gpaw-data), "
                "or use protocol=none for the CHGNet step only")
    return None


def validate(cfg: DictConfig) -> int:
    """MLIP pre-relaxation + DFT formation energies for CIFs or ``genms generate`` run folders."""
    from genms.configs import to_dataclass
    from genms.validate.batch import run_validation
    from genms.validate.config import ValidateConfig
    from genms.validate.inputs import collect_tasks
    from genms.validate.report import summarize

    console = _console()
    try:
        vcfg = to_dataclass(ValidateConfig, OmegaConf.to_container(cfg, resolve=True))
        tasks = collect_tasks(list(vcfg.inputs), vcfg.top)
        missing = _gpaw_missing(vcfg)
        if missing:
            fail(console, missing, 2)
        out_dir = _out_dir(vcfg.out_dir)
        console.print(f"validating {len(tasks)} structure(s) -> {out_dir}  (dft preset {vcfg.dft.preset}, "
                      f"protocol {vcfg.protocol})")
        with sigterm_as_exit():
            run = run_validation(tasks, vcfg, out_dir)
    except _user_errors() as exc:
        fail(console, str(exc), 2)
    summary = summarize(run.records)
    atomic_write_json(out_dir / "summary.json", {"summary": summary, "settings": vcfg.dft.physics(),
                                                 "preset": vcfg.dft.preset, "protocol": vcfg.protocol})
    _print_table(console, run.records, f"validation ({run.n_run} run, {run.n_resumed} resumed)")
    console.print(f"results: {out_dir / 'results.jsonl'}  summary: {out_dir / 'summary.json'}")
    if summary["n_structures"] and not any(r.get("status") == "ok" for r in run.records):
        fail(console, "no structure finished successfully (see the errors above)", 1)
    return 0


def eval_dft(cfg: DictConfig) -> int:
    """DFT validation benchmark: top end-to-end structures (or known compounds) -> JSON."""
    from genms.configs import to_dataclass
    from genms.validate.config import EvalDFTConfig

    console = _console()
    try:
        ecfg = to_dataclass(EvalDFTConfig, OmegaConf.to_container(cfg, resolve=True))
        missing = _gpaw_missing(ecfg)
        if missing:
            fail(console, missing, 2)
        with sigterm_as_exit():
            report = run_eval_dft(ecfg, _out_dir(ecfg.out_dir), console=console, command=_command_line())
    except _user_errors() as exc:
        fail(console, str(exc), 2)
    console.print(f"wrote {report['output']}")
    return 0


def run_eval_dft(ecfg, out_dir: Path, console=None, command: str = "") -> dict:
    """Select the structures, validate them (resumable in ``out_dir``) and write ``ecfg.output``."""
    from genms.paths import resolve_data_dir
    from genms.validate.batch import run_validation
    from genms.validate.inputs import family_runs, known_compound_tasks, run_folder_tasks
    from genms.validate.report import per_structure_rows, summarize

    if ecfg.suite == "known":
        tasks = known_compound_tasks(list(ecfg.known_ids), resolve_data_dir(ecfg.paths.data_dir))
    else:
        tasks = []
        for fam, folder in family_runs(list(ecfg.runs)).items():
            tasks.extend(run_folder_tasks(folder, ecfg.per_family, family=fam, best_per_formula=True))
        if not tasks:
            from genms.validate.inputs import InputError

            raise InputError(f"no kept candidates in {list(ecfg.runs)}")
    vcfg = ecfg.validate_config(str(out_dir))
    if console is not None:
        console.print(f"DFT validation of {len(tasks)} structure(s) ({ecfg.suite}) -> {out_dir}")
    start = time.perf_counter()
    run = run_validation(tasks, vcfg, out_dir)
    summary = summarize(run.records)
    report = {**summary,
              "suite": ecfg.suite,
              "settings": {"preset": vcfg.dft.preset, **vcfg.dft.physics(), "protocol": vcfg.protocol,
                           "mlip": vcfg.mlip.model if vcfg.mlip.enabled else None,
                           "references": vcfg.references.geometry, "mpi_ranks": vcfg.launch.mpi_ranks,
                           "threads": vcfg.launch.threads},
              "structures": per_structure_rows(run.records),
              "references": {kind: {el: {"energy_per_atom": r.get("energy_per_atom"), "source": r.get("source"),
                                         "status": r.get("status"), "wall_s": r.get("wall_s")}
                                    for el, r in refs.items()} for kind, refs in run.references.items()},
              "meta": {"command": command, "out_dir": str(out_dir), "session_wall_s": round(time.perf_counter() - start, 1),
                       "n_resumed": run.n_resumed, "versions": _versions()}}
    if ecfg.suite == "known":
        report["mp_comparison"] = _mp_comparison(run.records)
    path = Path(ecfg.output)
    atomic_write_json(path, report)
    report["output"] = str(path)
    if console is not None:
        _print_table(console, run.records, f"DFT validation ({ecfg.suite})", with_mp=ecfg.suite == "known")
    return report


def _mp_comparison(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        mp = r.get("e_form_mp")
        row = {"id": r.get("id"), "formula": r.get("formula"), "e_form_mp": mp, "e_form_dft": r.get("e_form_dft"),
               "e_form_dft_anion_corrected": r.get("e_form_dft_anion_corrected"),
               "e_form_mlip": r.get("e_form_mlip")}
        for key in ("e_form_dft", "e_form_dft_anion_corrected", "e_form_mlip"):
            if mp is not None and r.get(key) is not None:
                row[f"{key}_minus_mp"] = round(float(r[key]) - float(mp), 4)
        out.append(row)
    return out


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for name in ("gpaw", "gpaw-data", "ase", "chgnet", "torch", "pymatgen", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def _command_line() -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:  # not under Hydra
        overrides = []
    return " ".join(["genms eval dft", *overrides])

