"""One structure's validation, as a self-contained task.

:class:`StructureTask` is what a batch is made of (an id, the crystal, where it came from, and
scores to compare against such as the GNN's formation energy). :func:`validate_structure`
runs the protocol for one task and returns a JSON-able record; it never raises, so a crash
or a non-converged calculation is recorded and the batch goes on:

1. CHGNet pre-relaxation (when enabled and installed): relaxed energy, MLIP formation
   energy against CHGNet elemental references, displacement and volume change;
2. DFT on the pre-relaxed structure: a static calculation (default), or a full relaxation
   of positions and cell at ``dft.relax_ecut_ev`` followed by a static one (``protocol=relax``,
   or the task's id listed in ``relax_ids``);
3. the DFT formation energy against the DFT elemental references, plain and with the MP2020
   anion corrections added (for comparison with Materials Project values).

Record fields: ``id, formula, n_atoms, source, family, status, error, e_form_dft,
e_form_dft_anion_corrected, e_form_mlip, e_form_gnn, wall_s, mlip{...}, dft{...}`` (+ the
task's metadata). ``status`` is ``ok``, ``not_converged``, ``failed``, ``timeout`` or ``skipped``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ase.data import chemical_symbols
from ase.io import write
from ase.spacegroup.symmetrize import check_symmetry, refine_symmetry
from pymatgen.core import Composition

from genms.crystal.convert import from_ase, to_ase, to_pymatgen
from genms.crystal.structure import Crystal
from genms.io import atomic_path
from genms.validate import mlip
from genms.validate.config import ValidateConfig
from genms.validate.dft import atoms_from_dict, prepare_job
from genms.validate.formation import (
    MissingReference,
    corrected_formation_energy,
    formation_energy_per_atom,
)
from genms.validate.launch import run_calculation

log = logging.getLogger(__name__)

FINISHED_OK = ("ok",)
FAILED = ("failed", "timeout", "not_converged")

_ID_BAD = re.compile(r"[^A-Za-z0-9_.+-]+")


def safe_id(text: str) -> str:
    """A file-name-safe task id."""
    return _ID_BAD.sub("_", str(text)).strip("_") or "structure"


@dataclass(frozen=True)
class StructureTask:
    """A structure to validate.

    Attributes:
      id: unique, stable, file-name safe (keys the results journal).
      crystal: the structure.
      source: where it came from (a path, a run folder and rank, an MP id).
      family: the benchmark family, when there is one.
      metadata: extra values copied into the record (e.g. ``e_form_gnn``, ``rank``, ``e_form_mp``).
    """

    id: str
    crystal: Crystal
    source: str = ""
    family: str | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[int(z)] for z in self.crystal.atomic_numbers]

    @property
    def elements(self) -> set[str]:
        return set(self.symbols)

    @property
    def formula(self) -> str:
        return Composition("".join(self.symbols)).reduced_formula


def unique_ids(tasks: list[StructureTask]) -> list[StructureTask]:
    """Make ids unique by suffixing repeats (``x``, ``x-2``, ``x-3``...)."""
    seen: dict[str, int] = {}
    out = []
    for t in tasks:
        base = safe_id(t.id)
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append(replace(t, id=base if n == 1 else f"{base}-{n}"))
    return out


@dataclass(frozen=True)
class TaskContext:
    """Everything a task needs besides its structure (picklable, sent to every worker).

    ``mu_dft`` / ``mu_mlip``: reference energy per atom by element (``None`` when that
    reference failed; ``ref_errors`` says why). ``mlip_available``: chgnet importable in the
    driver (a worker without it records the step as skipped).
    """

    cfg: ValidateConfig
    out_dir: str
    mu_dft: dict = field(default_factory=dict)
    mu_mlip: dict = field(default_factory=dict)
    ref_errors: dict = field(default_factory=dict)
    mlip_available: bool = False


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _write_structure(atoms, path: Path) -> str | None:
    try:
        with atomic_path(path) as tmp:
            write(tmp, atoms, format="cif")
        return str(path)
    except Exception as exc:  # the record matters more than the CIF copy
        log.warning("could not write %s: %s", path, exc)
        return None


def _mlip_step(task: StructureTask, atoms, ctx: TaskContext, rec: dict):
    """CHGNet pre-relaxation; returns the atoms to continue with."""
    cfg = ctx.cfg.mlip
    if not cfg.enabled:
        return atoms
    if not (ctx.mlip_available and mlip.available()):
        rec["mlip"] = {"status": "skipped", "error": "chgnet is not installed"}
        return atoms
    try:
        res = mlip.relax(atoms, cfg)
    except Exception as exc:  # an MLIP failure leaves the structure as given for the DFT step
        rec["mlip"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        return atoms
    rec["mlip"] = {"status": "ok" if res.converged else "not_converged", **res.record()}
    try:
        rec["e_form_mlip"] = formation_energy_per_atom(
            res.energy_per_atom * len(res.atoms), task.symbols, ctx.mu_mlip
        )
    except MissingReference as exc:
        rec["mlip"]["e_form_error"] = _reference_error(exc, task, ctx, "mlip")
    rec["mlip"]["structure"] = _write_structure(
        res.atoms, Path(ctx.out_dir) / "structures" / f"{task.id}_mlip.cif"
    )
    return res.atoms


def _reference_error(exc: Exception, task: StructureTask, ctx: TaskContext, kind: str) -> str:
    details = [
        f"{el}: {ctx.ref_errors[(kind, el)]}"
        for el in sorted(task.elements)
        if (kind, el) in ctx.ref_errors
    ]
    return str(exc) + (f" ({'; '.join(details)})" if details else "")


def _symmetrized(atoms, symprec: float | None) -> tuple[object, str | None]:
    """``atoms`` snapped onto their symmetry within ``symprec`` Å, and the space group found."""
    atoms = atoms.copy()
    try:
        if symprec:
            refine_symmetry(atoms, symprec=symprec)
        data = check_symmetry(atoms, 1e-5)
        return atoms, f"{data.international} ({data.number})"
    except Exception as exc:  # spglib can fail on degenerate cells; DFT can still run
        log.warning("symmetry analysis failed: %s", exc)
        return atoms, None


def _dft_step(task: StructureTask, atoms, ctx: TaskContext, rec: dict) -> None:
    cfg = ctx.cfg
    mode = "relax" if cfg.protocol == "relax" or task.id in cfg.relax_ids else "static"
    relax = (
        {
            "ecut_ev": cfg.dft.relax_ecut_ev,
            "cell": cfg.dft.relax_cell,
            "fmax": cfg.dft.relax_fmax,
            "steps": cfg.dft.relax_steps,
        }
        if mode == "relax"
        else None
    )
    log_dir = Path(ctx.out_dir) / "logs"
    if cfg.launch.keep_logs:
        log_dir.mkdir(parents=True, exist_ok=True)
    txt = str(log_dir / f"{task.id}.txt") if cfg.launch.keep_logs else None
    atoms, spacegroup = _symmetrized(atoms, cfg.dft.symmetrize_symprec)
    job = prepare_job(atoms, cfg.dft.physics(), task.id, mode=mode, relax=relax, txt=txt)
    result = run_calculation(job, cfg.launch, ctx.out_dir)
    final = result.pop("atoms", None)
    rec["dft"] = {**result, "spacegroup": spacegroup}
    rec["status"], rec["error"] = result["status"], result.get("error")
    energy = result.get("energy_ev")
    if energy is None:
        return
    try:
        rec["e_form_dft"] = formation_energy_per_atom(energy, task.symbols, ctx.mu_dft)
    except MissingReference as exc:
        rec["status"], rec["error"] = "failed", _reference_error(exc, task, ctx, "dft")
        return
    final_atoms = atoms_from_dict(final) if final is not None else atoms
    if final is not None:
        rec["dft"]["structure"] = _write_structure(
            final_atoms, Path(ctx.out_dir) / "structures" / f"{task.id}_dft.cif"
        )
    try:
        structure = to_pymatgen(from_ase(final_atoms))
        rec["e_form_dft_anion_corrected"], rec["anion_correction_per_atom"] = (
            corrected_formation_energy(rec["e_form_dft"], structure)
        )
    except Exception as exc:  # the plain value stands; the correction is a comparison aid only
        log.warning("%s: MP2020 anion correction unavailable: %s", task.id, exc)


def validate_structure(task: StructureTask, ctx: TaskContext) -> dict:
    """Run the validation protocol on one structure; returns its record (never raises)."""
    start = time.perf_counter()
    rec: dict = {
        "id": task.id,
        "formula": None,
        "n_atoms": task.crystal.n_atoms,
        "source": task.source,
        "family": task.family,
        "status": "ok",
        "error": None,
        "e_form_dft": None,
        "e_form_dft_anion_corrected": None,
        "e_form_mlip": None,
        "e_form_gnn": _finite(task.metadata.get("e_form_gnn")),
        "mlip": None,
        "dft": None,
    }
    rec.update({k: v for k, v in task.metadata.items() if k not in rec})
    try:
        rec["formula"] = task.formula
        max_atoms = ctx.cfg.max_atoms
        if max_atoms is not None and task.crystal.n_atoms > max_atoms:
            rec["status"], rec["error"] = (
                "skipped",
                f"{task.crystal.n_atoms} atoms > max_atoms={max_atoms}",
            )
        else:
            atoms = _mlip_step(task, to_ase(task.crystal), ctx, rec)
            if ctx.cfg.protocol != "none":
                _dft_step(task, atoms, ctx, rec)
            elif rec["mlip"] is not None:
                rec["status"], rec["error"] = (
                    rec["mlip"].get("status", "ok"),
                    rec["mlip"].get("error"),
                )
    except Exception as exc:  # anything unexpected is this structure's failure only
        log.debug("task %s failed", task.id, exc_info=True)
        rec["status"], rec["error"] = "failed", f"{type(exc).__name__}: {exc}"
    rec["wall_s"] = round(time.perf_counter() - start, 3)
    return rec
