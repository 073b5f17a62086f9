"""``genms score <CIF/POSCAR files or folders>``: R_lo's formation energy for the user's structures.

Each file is read with :func:`genms.crystal.convert.read_structure` (CIF, POSCAR/CONTCAR or any
format pymatgen or ASE reads), checked for validity (distances, volume, SMACT composition) and
scored by the energy GNN bundle (default: the one shipped with the package). Prints a table and,
with ``output=<file.csv|file.json>``, writes every number.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from rich.table import Table

from genms.configs import typed
from genms.console import exit_with, make_console
from genms.crystal.composition import composition_from_numbers
from genms.crystal.convert import StructureReadError, is_structure_file, read_structure
from genms.energy.config import PredictorConfig
from genms.energy.predictor import load_predictor
from genms.evaluate.validity import check_validity
from genms.io import atomic_write_text
from genms.paths import PathsConfig
from genms.progress import TextProgress, listening


@dataclass(frozen=True)
class ScoreConfig:
    """``genms score`` (conf/score.yaml).

    Attributes:
      inputs: CIF, POSCAR/CONTCAR, .vasp (or any format pymatgen or ASE reads) files and folders.
      output: a .csv or .json file with every number (``None``: print the table only).
    """

    inputs: list[str] = field(default_factory=list)
    output: str | None = None
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


def collect_files(inputs: list[str]) -> list[Path]:
    """Files as given, and the structure files (CIF, POSCAR, .vasp) below each folder."""
    if not inputs:
        exit_with("genms score: no inputs; usage: genms score <CIF/POSCAR files or folders> "
                  "[output=scores.csv]")
    files: list[Path] = []
    for raw in inputs:
        p = Path(raw).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and is_structure_file(f))
            if not found:
                exit_with(f"genms score: no structure files (.cif, POSCAR, .vasp) under {p}")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            exit_with(f"genms score: {raw!r} is neither a file nor a folder")
    return files


def score_files(files: list[Path], predictor) -> list[dict]:
    """One record per file: formula, atoms, validity and the predicted formation energy."""
    records: list[dict] = []
    crystals, rows = [], []
    for path in files:
        rec: dict = {"file": str(path)}
        try:
            crystal = read_structure(path)
        except (StructureReadError, ValueError) as exc:
            rec["error"] = str(exc)
            records.append(rec)
            continue
        v = check_validity(crystal)
        rec.update(
            formula=composition_from_numbers(crystal.atomic_numbers).reduced_formula,
            n_atoms=crystal.n_atoms,
            struct_valid=bool(v.struct_valid),
            comp_valid=bool(v.comp_valid),
            min_distance_ang=float(v.min_distance) if math.isfinite(v.min_distance) else None,
        )
        records.append(rec)
        if crystal.n_atoms and abs(float(np.linalg.det(crystal.lattice))) > 1e-6:
            crystals.append(crystal)
            rows.append(rec)
        else:
            rec["error"] = "no atoms or a degenerate cell: not scored"
    if crystals:
        with listening(TextProgress(prefix="genms score: ")):
            pred = predictor.predict(crystals)
        unseen = pred.extra.get("unseen_elements")
        for i, rec in enumerate(rows):
            rec["e_form_ev_per_atom"] = float(pred.e_form[i])
            rec["e_form_std"] = None if pred.std is None else float(pred.std[i])
            rec["in_range"] = bool(pred.in_range[i])
            if unseen is not None and bool(unseen[i]):
                rec["note"] = "holds an element never seen in training"
            elif not rec["in_range"]:
                rec["note"] = "outside the training targets' range"
    return records


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}f}"


def _short(text: str, n: int = 60) -> str:
    text = text.split(" (pymatgen:")[0].split(": ", 1)[-1]
    return text if len(text) <= n else text[: n - 3] + "..."


def print_table(records: list[dict], bundle: str) -> None:
    table = Table(title=f"Formation energy E_f in eV/atom ({bundle}); ±: ensemble spread")
    columns = (
        ("file", "left"),
        ("formula", "left"),
        ("atoms", "right"),
        ("E_f", "right"),
        ("±", "right"),
        ("trusted", "center"),
        ("valid", "center"),
        ("note", "left"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")

    def shown(file: str) -> str:
        try:
            return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return file

    for r in records:
        if "e_form_ev_per_atom" not in r:
            valid = (
                "—"
                if "formula" not in r
                else ("yes" if r["struct_valid"] and r["comp_valid"] else "no")
            )
            table.add_row(
                shown(r["file"]),
                r.get("formula", "—"),
                str(r.get("n_atoms", "—")),
                "—",
                "—",
                "—",
                valid,
                _short(r.get("error", "")),
                style="red",
            )
            continue
        valid = r["struct_valid"] and r["comp_valid"]
        why = (
            ""
            if valid
            else (
                "atoms too close or cell too small"
                if not r["struct_valid"]
                else "composition not SMACT-valid"
            )
        )
        table.add_row(
            shown(r["file"]),
            r["formula"],
            str(r["n_atoms"]),
            _fmt(r["e_form_ev_per_atom"]),
            _fmt(r["e_form_std"]),
            "yes" if r["in_range"] else "no",
            "yes" if valid else "no",
            "; ".join(x for x in (r.get("note", ""), why) if x),
        )
    make_console().print(table)


def write_output(records: list[dict], path: Path) -> Path:
    if path.suffix.lower() == ".json":
        return atomic_write_text(path, json.dumps(records, indent=1) + "\n")
    return atomic_write_text(path, pd.DataFrame(records).to_csv(index=False))


def score(cfg: ScoreConfig | DictConfig) -> list[dict]:
    """Runner of ``genms score`` (``cfg`` composed from ``conf/score.yaml``)."""
    conf = typed(ScoreConfig, cfg)
    files = collect_files(list(conf.inputs))
    bundle = conf.predictor.bundle
    predictor = load_predictor(bundle)
    records = score_files(files, predictor)
    print_table(records, "shipped energy GNN" if not bundle else str(bundle))
    if conf.output:
        written = write_output(records, Path(conf.output).expanduser())
        print(f"wrote {written}")  # noqa: T201 - CLI output
    if not any("e_form_ev_per_atom" in r for r in records):
        raise SystemExit("genms score: no structure could be scored (see the table)")
    return records
