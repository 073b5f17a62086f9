"""``genms eval metrics <structure files or folders>``: validity (and uniqueness) of CIF or POSCAR
files.

For every file (CIF, VASP POSCAR/CONTCAR, or another format pymatgen or ASE reads): file validity
(it parses into an ordered structure; "CIF validity" for CIFs), structural and composition validity
(:mod:`genms.evaluate.validity`) and, when ``reference_formulae`` is given, formula uniqueness
(:mod:`genms.evaluate.uniqueness`). Fractions are over *all* input files (a file that does not
parse counts as invalid and not unique). Prints a table and writes a JSON report with the
per-file results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.table import Table

from genms.configs import ConfigError, ranged, to_dataclass
from genms.console import make_console
from genms.crystal.composition import composition_from_numbers
from genms.crystal.convert import StructureReadError, is_structure_file, read_structure
from genms.evaluate.parallel import parallel_map
from genms.evaluate.uniqueness import ReferenceFormulae
from genms.evaluate.validity import DEFAULT_VALIDITY, ValidityConfig, check_validity, parse_cif
from genms.io import atomic_write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalMetricsConfig:
    """Schema of ``conf/eval_metrics.yaml`` (without the ``paths`` group)."""

    inputs: list[str] = field(default_factory=list)
    n_workers: int = ranged(2, -1, 1024)  # <= 1: in this process; -1: every core
    reference_formulae: str | None = None
    output: str | None = None
    progress: bool = True
    validity: ValidityConfig = field(default_factory=ValidityConfig)


class InputError(SystemExit):
    """Bad command-line input: exits with the message (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"genms eval metrics: {message}")


def collect_cif_files(inputs: list[str]) -> list[Path]:
    """Expand files and folders (recursively: ``*.cif``, ``*.vasp``, ``*.poscar``, POSCAR*/CONTCAR*,
    in any case) into a sorted file list. A file named on the command line is taken whatever its
    name."""
    if not inputs:
        raise InputError(
            "no inputs; usage: genms eval metrics <CIF/POSCAR files or folders> [key=value ...]"
        )
    files: list[Path] = []
    for raw in inputs:
        p = Path(raw).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and is_structure_file(f))
            if not found:
                log.warning("no structure files (.cif, POSCAR, .vasp) under %s", p)
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"input {raw!r} is neither a file nor a folder")
    if not files:
        raise InputError(f"no structure files (.cif, POSCAR, .vasp) found in {inputs}")
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


class _FileTask:
    """Parse one structure file and judge its validity (runs in a worker)."""

    def __init__(self, config: ValidityConfig) -> None:
        self.config = config

    def __call__(self, path: str) -> dict:
        rec: dict = {"path": path}
        if Path(path).suffix.lower() in (".cif", ".mcif"):
            try:
                text = Path(path).read_text(errors="replace")
            except OSError as exc:
                text, rec["cif_error"] = "", f"cannot read file: {exc}"
            crystal, err = parse_cif(text) if text else (None, rec.get("cif_error", "empty file"))
        else:  # POSCAR/CONTCAR or another format pymatgen or ASE reads
            try:
                crystal, err = read_structure(path), ""
            except (StructureReadError, ValueError) as exc:
                crystal, err = None, str(exc)
        rec["cif_valid"] = crystal is not None
        if crystal is None:
            rec.update(
                cif_error=err, struct_valid=False, comp_valid=False, valid=False, formula=None
            )
            return rec
        rec["formula"] = composition_from_numbers(crystal.atomic_numbers).reduced_formula
        rec["n_atoms"] = crystal.n_atoms
        rec.update(check_validity(crystal, self.config).to_dict())
        return rec


def evaluate_files(
    files: list[Path],
    config: ValidityConfig = DEFAULT_VALIDITY,
    n_workers: int | None = 2,
    reference_formulae: str | None = None,
    progress: bool = True,
) -> dict:
    """Per-file records and summary fractions for ``files`` (see the module docstring)."""
    refs = ReferenceFormulae.from_file(reference_formulae) if reference_formulae else None
    records = parallel_map(_FileTask(config), [str(f) for f in files], n_workers, "validity",
                           progress=progress)
    n = len(records)
    summary: dict = {"n_files": n}
    for key in ("cif_valid", "struct_valid", "comp_valid", "valid"):
        count = sum(bool(r.get(key)) for r in records)
        summary[f"n_{key}"] = count
        summary[key] = count / n if n else 0.0
    if refs is not None:
        for r in records:
            r["unique"] = bool(r["formula"]) and refs.is_unique(r["formula"])
        count = sum(r["unique"] for r in records)
        summary.update(
            n_unique=count, unique=count / n if n else 0.0, n_reference_formulae=len(refs)
        )
    return {"summary": summary, "files": records}



def _default_output() -> Path:
    try:
        return Path(HydraConfig.get().runtime.output_dir) / "eval_metrics.json"
    except Exception:  # not running under Hydra
        return Path("eval_metrics.json")


def print_table(summary: dict, cif_only: bool = True) -> None:
    kind = "CIF" if cif_only else "structure"
    table = Table(title=f"Validity of {summary['n_files']} {kind} files")
    table.add_column("metric")
    table.add_column("fraction", justify="right")
    table.add_column("count", justify="right")
    rows = [
        ("CIF validity" if cif_only else "file validity (parses)", "cif_valid"),
        ("structural validity", "struct_valid"),
        ("composition validity (SMACT)", "comp_valid"),
        ("valid (structural and composition)", "valid"),
    ]
    if "unique" in summary:
        rows.append((f"unique vs {summary['n_reference_formulae']} reference formulae", "unique"))
    for label, key in rows:
        table.add_row(label, f"{summary[key]:.4f}", f"{summary['n_' + key]}/{summary['n_files']}")
    make_console().print(table)


def metrics(cfg) -> dict:
    """Runner of ``genms eval metrics`` (``cfg`` composed from ``conf/eval_metrics.yaml``)."""
    node = OmegaConf.to_container(cfg, resolve=True)
    node.pop("paths", None)  # type: ignore[union-attr]
    try:
        conf = to_dataclass(EvalMetricsConfig, node)
    except ConfigError as exc:
        raise InputError(
            f"{exc}\n(see conf/eval_metrics.yaml for the keys and their types)"
        ) from None
    files = collect_cif_files(list(conf.inputs))
    if conf.reference_formulae and not Path(conf.reference_formulae).expanduser().is_file():
        raise InputError(
            f"reference_formulae={conf.reference_formulae!r} is not a file; pass a .txt with one "
            "formula per line or a CSV with a formula column"
        )
    if conf.reference_formulae:
        try:
            n_refs = len(ReferenceFormulae.from_file(conf.reference_formulae))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"reference_formulae={conf.reference_formulae!r}: {exc}") from None
        if not n_refs:
            # e.g. a JSON file: every line is skipped, and "unique vs 0 formulae" would be 1.0
            raise InputError(
                f"reference_formulae={conf.reference_formulae!r} holds no chemical formula; "
                "pass a .txt with one formula per line or a CSV with a reduced_formula, "
                "pretty_formula, formula or cif column"
            )
    log.info("evaluating %d structure files with %d workers", len(files), conf.n_workers)
    report = evaluate_files(
        files, conf.validity, conf.n_workers, conf.reference_formulae, conf.progress
    )
    report["config"] = {k: v for k, v in node.items() if k != "inputs"}  # type: ignore[union-attr]
    out = Path(conf.output).expanduser() if conf.output else _default_output()
    atomic_write_json(out, report, indent=1)
    print_table(report["summary"], all(f.suffix.lower() == ".cif" for f in files))
    print(f"wrote {out}")  # noqa: T201 (the command's user-facing output)
    return report["summary"]
