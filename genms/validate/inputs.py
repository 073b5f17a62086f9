"""Turning command inputs into :class:`~genms.validate.tasks.StructureTask` lists.

Accepted inputs:

* a ``.cif`` file or a VASP POSCAR/CONTCAR/``.vasp`` file (one task, id = the file's stem);
* a ``genms generate`` run folder (it has ``candidates.json``): its kept candidates in rank
  order, with the GNN's formation energy attached (``e_form_gnn``), so DFT can be compared
  with it; a run folder with only ``cifs/`` gives those CIFs;
* a folder of CIFs (every ``*.cif`` in it, sorted);
* an ``end_to_end.json`` benchmark result that names its ``run_dir`` (its families' run folders).

Known compounds come from the Materials Project data beside the checkout (MP-20 CSVs, or the
CGCNN MP set) by MP id, with MP's formation energy attached (``e_form_mp``).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

from genms.crystal.convert import (
    CIFParseError,
    StructureReadError,
    from_cif,
    is_structure_file,
    read_structure,
)
from genms.search.candidates import crystal_from_dict
from genms.validate.tasks import StructureTask, safe_id

log = logging.getLogger(__name__)


class InputError(ValueError):
    """An input path that is not a CIF, a folder of CIFs or a run folder."""


def read_text_input(path: Path, what: str) -> str:
    """The UTF-8 text of an input file; an :class:`InputError` naming the file otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not a text {what} (byte {exc.object[exc.start]:#04x} at offset {exc.start} "
            "is not UTF-8); pass a CIF, a folder of CIFs or a run folder"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _cif_task(path: Path, prefix: str = "", family: str | None = None) -> StructureTask:
    if path.suffix.lower() != ".cif":  # POSCAR/CONTCAR, .vasp
        try:
            crystal = read_structure(path)
        except (StructureReadError, ValueError) as exc:
            raise InputError(str(exc)) from exc
        return StructureTask(
            id=safe_id(prefix + path.stem), crystal=crystal, source=str(path), family=family
        )
    text = read_text_input(path, "CIF file")
    try:
        crystal = from_cif(text)
    except CIFParseError as exc:
        raise InputError(f"{path}: {exc}") from exc
    return StructureTask(
        id=safe_id(prefix + path.stem), crystal=crystal, source=str(path), family=family
    )


def is_run_folder(path: Path) -> bool:
    return (path / "candidates.json").is_file()


def run_folder_tasks(path: Path, top: int | None = None, family: str | None = None,
                     best_per_formula: bool = False) -> list[StructureTask]:
    """Kept candidates of a ``genms generate`` run folder, best first."""
    try:
        records = json.loads(read_text_input(path / "candidates.json", "JSON file"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path / 'candidates.json'} is unreadable: {exc}") from exc
    kept = [r for r in records if r.get("status") == "kept" and r.get("structure")]
    kept.sort(key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
    if best_per_formula:
        first: dict[str, dict] = {}
        rest = []
        for r in kept:
            (rest.append(r) if r["formula"] in first else first.setdefault(r["formula"], r))
        kept = list(first.values()) + rest
    if top is not None:
        kept = kept[:top]
    tasks = []
    for r in kept:
        e = r.get("e_form_ev_per_atom")
        meta = {
            "rank": r.get("rank"),
            "e_form_gnn": e if e is not None and math.isfinite(e) else None,
            "candidate_id": r.get("id"),
            "search_score": r.get("score"),
        }
        rank = r.get("rank")
        tid = (
            f"{family + '-' if family else ''}{rank:02d}_{r['formula']}"
            if rank is not None
            else r["id"]
        )
        tasks.append(StructureTask(id=safe_id(tid), crystal=crystal_from_dict(r["structure"]),
                                   source=f"{path}#rank{rank}", family=family, metadata=meta))
    return tasks


def collect_tasks(inputs: list[str], top: int | None = None) -> list[StructureTask]:
    """Tasks for ``genms validate`` inputs (see the module docstring); clear errors otherwise."""
    if not inputs:
        raise InputError(
            "no inputs: give CIF files, folders of CIFs or `genms generate` run folders, e.g. "
            "`genms validate runs/generate/<run>` or `genms validate a.cif b.cif`"
        )
    tasks: list[StructureTask] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"{raw}: no such file or folder")
        if path.is_file() and is_structure_file(path):  # a CIF, POSCAR/CONTCAR or .vasp file
            tasks.append(_cif_task(path))
        elif path.is_file() and path.suffix.lower() == ".json":
            for fam, folder in end_to_end_runs(path).items():
                tasks.extend(run_folder_tasks(folder, top, family=fam))
        elif path.is_dir() and is_run_folder(path):
            tasks.extend(run_folder_tasks(path, top))
        elif path.is_dir():
            folder = path / "cifs" if (path / "cifs").is_dir() else path
            cifs = sorted(folder.glob("*.cif"))
            if not cifs:
                raise InputError(f"{raw}: a folder with no .cif files and no candidates.json")
            tasks.extend(_cif_task(p) for p in cifs[:top])
        else:
            raise InputError(
                f"{raw}: not a CIF or POSCAR file, a folder of CIFs, a run folder or an "
                "end_to_end.json"
            )
    return tasks


def end_to_end_runs(path: Path) -> dict[str, Path]:
    """Family -> run folder of an ``end_to_end.json``: its per-family ``run_dir``,
    ``meta.run_dir/<family>``,
    or a ``<family>`` folder beside the JSON (where ``genms sweep`` points keep them)."""
    try:
        report = json.loads(read_text_input(path, "JSON file"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: unreadable JSON ({exc})") from exc
    run_dir = (report.get("meta") or {}).get("run_dir")
    out: dict[str, Path] = {}
    for fam, entry in report.items():
        if fam == "meta" or not isinstance(entry, dict):
            continue
        named = [entry.get("run_dir"), Path(run_dir) / fam if run_dir else None]
        candidates = [Path(c) for c in named if c is not None] + [path.parent / fam]
        folder = next((c for c in candidates if is_run_folder(c)), None)
        if folder is not None:
            out[fam] = folder
    if not out:
        raise InputError(
            f"{path} names no run folders with candidates.json: rerun the benchmark with "
            "`genms eval end-to-end run_dir=runs/end_to_end` and pass that folder instead")
    return out


def family_runs(runs: list[str]) -> dict[str, Path]:
    """Family name -> run folder, from run folders, folders of family run folders, or
    end_to_end.json."""
    out: dict[str, Path] = {}
    for raw in runs:
        path = Path(raw).expanduser()
        if path.is_file() and path.suffix == ".json":
            out.update(end_to_end_runs(path))
        elif path.is_dir() and is_run_folder(path):
            out[path.name] = path
        elif path.is_dir():
            subs = {p.name: p for p in sorted(path.iterdir()) if p.is_dir() and is_run_folder(p)}
            if not subs:
                raise InputError(f"{raw}: holds no run folder (no */candidates.json)")
            out.update(subs)
        else:
            raise InputError(
                f"{raw}: not found. Produce the family run folders with "
                "`genms eval end-to-end run_dir=runs/end_to_end`, then `genms eval dft "
                "runs=[runs/end_to_end]`"
            )
    return out


def known_compound_tasks(ids: list[str], data_dir: Path) -> list[StructureTask]:
    """Materials Project structures by id with MP's formation energy (MP-20 first, then CGCNN's MP
    set)."""
    sources = [data_dir / "mp_20_partial" / f"{s}.csv" for s in ("train", "val", "test")]
    sources += [data_dir / "mp_20" / f"{s}.csv" for s in ("train", "val", "test")]
    sources.append(data_dir / "mp_cgcnn_36k" / "data.csv")
    found: dict[str, StructureTask] = {}
    for csv in sources:
        if not csv.exists() or len(found) == len(ids):
            continue
        df = pd.read_csv(
            csv, usecols=lambda c: c in ("material_id", "formation_energy_per_atom", "cif")
        )
        for _, row in df[df["material_id"].isin([i for i in ids if i not in found])].iterrows():
            mid = row["material_id"]
            crystal = from_cif(row["cif"])
            found[mid] = StructureTask(
                id=safe_id(mid),
                crystal=crystal,
                source=f"{csv.parent.name}/{csv.name}",
                metadata={"e_form_mp": float(row["formation_energy_per_atom"]), "mp_id": mid},
            )
    missing = [i for i in ids if i not in found]
    if missing:
        raise InputError(f"Materials Project ids {missing} not found under {data_dir} "
                         "(mp_20_partial/, mp_20/ or mp_cgcnn_36k/ CSVs)")
    return [found[i] for i in ids]
