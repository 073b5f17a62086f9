"""``genms eval dft``: DFT validation of the end-to-end search's top structures (Table 1's DFT
column) or of well-known compounds against their Materials Project values.

The structures are validated exactly as ``genms validate`` does (:mod:`genms.validate`), in a
resumable results folder; the report goes to ``benchmarks/results/dft_validation.json``.
"""

from __future__ import annotations

import importlib.metadata as md
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from genms.configs import ranged, to_dataclass
from genms.console import command_line, fail, make_console, run_dir
from genms.io import atomic_write_json
from genms.parallel.executor import ExecutorConfig
from genms.paths import PathsConfig, resolve_data_dir
from genms.validate.batch import run_validation
from genms.validate.commands import USER_ERRORS, gpaw_missing, print_table
from genms.validate.config import (
    DFTSettings,
    LaunchConfig,
    MLIPConfig,
    ReferenceConfig,
    ValidateConfig,
    check_choice,
    serial_executor,
)
from genms.validate.inputs import InputError, family_runs, known_compound_tasks, run_folder_tasks
from genms.validate.launch import sigterm_as_exit
from genms.validate.report import per_structure_rows, summarize


@dataclass(frozen=True)
class EvalDFTConfig:
    """``genms eval dft`` (conf/eval_dft.yaml): the validation settings plus what to validate.

    Attributes:
      suite: ``candidates`` — the top structures of end-to-end benchmark run folders;
        ``known`` — well-known compounds (Materials Project structures) against their MP values.
      runs: run folders (one per family, or a folder holding one sub-folder per family), or an
        ``end_to_end.json`` that names its ``run_dir``.
      per_family: structures taken from each family (best ranked, one per formula first).
      known_ids: Materials Project ids of the known-compounds suite (read from MP-20 / MP data).
      output: the JSON written.
      out_dir: results folder of the underlying validation run (resumable).
      The remaining fields are as in :class:`ValidateConfig`.
    """

    suite: str = "candidates"
    runs: list[str] = field(default_factory=lambda: ["runs/end_to_end"])
    per_family: int = ranged(4, 1, 10_000)
    known_ids: list[str] = field(default_factory=lambda: ["mp-22862", "mp-4651", "mp-3536"])
    output: str = "benchmarks/results/dft_validation.json"
    out_dir: str | None = None
    protocol: str = "static"
    relax_ids: list[str] = field(default_factory=list)
    retry_failed: bool = False
    max_atoms: int | None = ranged(40, 1, 1000)
    dft: DFTSettings = field(default_factory=DFTSettings)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    mlip: MLIPConfig = field(default_factory=MLIPConfig)
    references: ReferenceConfig = field(default_factory=ReferenceConfig)
    executor: ExecutorConfig = field(default_factory=serial_executor)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        check_choice("suite", self.suite, ("candidates", "known"))
        if self.per_family < 1:
            raise ValueError("per_family must be >= 1")

    def validate_config(self, out_dir: str) -> ValidateConfig:
        """The :class:`ValidateConfig` of the underlying validation run."""
        return ValidateConfig(
            inputs=[],
            out_dir=out_dir,
            protocol=self.protocol,
            relax_ids=list(self.relax_ids),
            top=None,
            retry_failed=self.retry_failed,
            max_atoms=self.max_atoms,
            dft=self.dft,
            launch=self.launch,
            mlip=self.mlip,
            references=self.references,
            executor=self.executor,
            paths=self.paths,
        )


def eval_dft(cfg: DictConfig) -> int:
    """Runner of ``genms eval dft``: top end-to-end structures (or known compounds) -> JSON."""
    console = make_console(160)
    try:
        ecfg = to_dataclass(EvalDFTConfig, OmegaConf.to_container(cfg, resolve=True))
        missing = gpaw_missing(ecfg.protocol, ecfg.dft.code, ecfg.mlip.enabled)
        if missing:
            fail(console, missing, 2)
        with sigterm_as_exit():
            report = run_eval_dft(ecfg, run_dir(ecfg.out_dir), console=console,
                                  command=command_line("genms eval dft"))
    except USER_ERRORS as exc:
        fail(console, str(exc), 2)
    console.print(f"wrote {report['output']}")
    return 0


def run_eval_dft(
    ecfg: EvalDFTConfig, out_dir: Path, console: Console | None = None, command: str = ""
) -> dict:
    """Select the structures, validate them (resumable in ``out_dir``) and write ``ecfg.output``."""
    if ecfg.suite == "known":
        tasks = known_compound_tasks(list(ecfg.known_ids), resolve_data_dir(ecfg.paths.data_dir))
    else:
        tasks = []
        for fam, folder in family_runs(list(ecfg.runs)).items():
            tasks.extend(
                run_folder_tasks(folder, ecfg.per_family, family=fam, best_per_formula=True)
            )
        if not tasks:
            raise InputError(f"no kept candidates in {list(ecfg.runs)}")
    vcfg = ecfg.validate_config(str(out_dir))
    if console is not None:
        console.print(f"DFT validation of {len(tasks)} structure(s) ({ecfg.suite}) -> {out_dir}")
    start = time.perf_counter()
    run = run_validation(tasks, vcfg, out_dir)
    summary = summarize(run.records)
    report = {
        **summary,
        "suite": ecfg.suite,
        "settings": {
            "preset": vcfg.dft.preset,
            **vcfg.dft.physics(),
            "protocol": vcfg.protocol,
            "mlip": vcfg.mlip.model if vcfg.mlip.enabled else None,
            "references": vcfg.references.geometry,
            "mpi_ranks": vcfg.launch.mpi_ranks,
            "threads": vcfg.launch.threads,
        },
        "structures": per_structure_rows(run.records),
        "references": {
            kind: {
                el: {
                    "energy_per_atom": r.get("energy_per_atom"),
                    "source": r.get("source"),
                    "status": r.get("status"),
                    "wall_s": r.get("wall_s"),
                }
                for el, r in refs.items()
            }
            for kind, refs in run.references.items()
        },
        "meta": {
            "command": command,
            "out_dir": str(out_dir),
            "session_wall_s": round(time.perf_counter() - start, 1),
            "n_resumed": run.n_resumed,
            "versions": _versions(),
        },
    }
    if ecfg.suite == "known":
        report["mp_comparison"] = _mp_comparison(run.records)
    path = Path(ecfg.output)
    atomic_write_json(path, report)
    report["output"] = str(path)
    if console is not None:
        print_table(
            console, run.records, f"DFT validation ({ecfg.suite})", with_mp=ecfg.suite == "known"
        )
    return report


def _mp_comparison(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        mp = r.get("e_form_mp")
        row = {
            "id": r.get("id"),
            "formula": r.get("formula"),
            "e_form_mp": mp,
            "e_form_dft": r.get("e_form_dft"),
            "e_form_dft_anion_corrected": r.get("e_form_dft_anion_corrected"),
            "e_form_mlip": r.get("e_form_mlip"),
        }
        for key in ("e_form_dft", "e_form_dft_anion_corrected", "e_form_mlip"):
            if mp is not None and r.get(key) is not None:
                row[f"{key}_minus_mp"] = round(float(r[key]) - float(mp), 4)
        out.append(row)
    return out


def _versions() -> dict:
    out = {}
    for name in ("gpaw", "gpaw-data", "ase", "chgnet", "torch", "pymatgen", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out
