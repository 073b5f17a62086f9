"""Shared builders for the validation tests: EMT settings (no DFT code needed) and tiny cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ase.build import bulk

from genms.crystal.convert import from_ase
from genms.search.candidates import crystal_to_dict
from genms.validate.config import (
    DFTSettings,
    LaunchConfig,
    MLIPConfig,
    ReferenceConfig,
    ValidateConfig,
)
from genms.validate.tasks import StructureTask


def emt_config(tmp_path: Path, **kw) -> ValidateConfig:
    """EMT in this process, no MLIP, a private reference cache."""
    base = dict(
        dft=DFTSettings(preset="emt", code="emt"),
        launch=LaunchConfig(launcher="inprocess"),
        mlip=MLIPConfig(enabled=False),
        references=ReferenceConfig(cache_dir=str(tmp_path / "refcache")),
    )
    base.update(kw)
    return ValidateConfig(**base)


def cu3au_atoms(a: float = 3.75):
    atoms = bulk("Cu", "fcc", a=a, cubic=True)
    atoms.numbers[0] = 79
    return atoms


def cu3au_task(tid: str = "cu3au", **meta) -> StructureTask:
    return StructureTask(tid, from_ase(cu3au_atoms()), source="test", metadata=meta)


def write_run_folder(path: Path, entries: list[tuple[str, int | None, str, float]]) -> Path:
    """A minimal ``genms generate`` run folder: (formula-atoms builder key, rank, status,
    e_form)."""
    records = []
    for i, (kind, rank, status, e) in enumerate(entries):
        atoms = cu3au_atoms() if kind == "Cu3Au" else bulk(kind, "fcc", a=4.0)
        records.append({"rank": rank, "id": f"c{i}", "formula": kind, "status": status, "score": -e,
                        "e_form_ev_per_atom": e, "structure": crystal_to_dict(from_ase(atoms))})
    path.mkdir(parents=True, exist_ok=True)
    (path / "candidates.json").write_text(json.dumps(records))
    return path


def close(a: float, b: float, tol: float = 1e-9) -> bool:
    return bool(np.isclose(a, b, atol=tol))
