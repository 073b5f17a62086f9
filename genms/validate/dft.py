"""One DFT calculation: a job dict in, a result dict out (runs inside the calculation's process).

A *job* is JSON-able so it can cross a process boundary (``python -m genms.validate.worker``,
optionally under ``mpiexec``)::

    {"label": str, "kind": "crystal" | "molecule", "atoms": {numbers, positions, cell},
     "settings": DFTSettings as a dict, "mode": "static" | "relax",
     "relax": {"ecut_ev", "cell", "fmax", "steps"} (mode=relax),
     "spinpol": bool, "magmoms": [float] | None, "txt": path | None}

The result holds ``status`` (``ok``, ``not_converged``, ``failed``), ``error``, the energy (eV
and eV/atom), the largest force (eV/Å), the stress (GPa), SCF iterations, ionic steps, the
magnetic moment, the k-point grid, the wall time and, after a relaxation, the final atoms.

GPAW: PBE, plane waves (``PW(ecut)``), Fermi–Dirac smearing, k-point grids from a density,
PAW setups found by GPAW in the ``gpaw-data`` package (no network). ``code=emt`` swaps in
ASE's EMT potential so the whole chain can be tested in milliseconds.

Host-side decisions that need pymatgen (spin, initial moments, Γ-centring) are made by
:func:`prepare_job` in the driver, so this module imports only numpy and ASE at the top.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import spglib
from ase import Atoms
from ase.calculators.calculator import kptdensity2monkhorstpack
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from pymatgen.io.vasp.sets import MPRelaxSet

log = logging.getLogger(__name__)

_GPA_PER_EV_ANG3 = 160.21766208


# -- host side: building a job --------------------------------------------------------------
def atoms_to_dict(atoms) -> dict:
    return {
        "numbers": [int(z) for z in atoms.numbers],
        "positions": np.asarray(atoms.positions).tolist(),
        "cell": np.asarray(atoms.cell).tolist(),
    }


def atoms_from_dict(d: dict):
    return Atoms(numbers=d["numbers"], positions=d["positions"], cell=d["cell"], pbc=True)


def magnetic_moments(symbols: list[str]) -> dict[str, float]:
    """Initial moments (μB) of magnetic elements, from the Materials Project's relax set.

    An element counts as magnetic when MP's ``MAGMOM`` table gives it (or one of its ions) a
    moment above MP's default of 0.6 μB; its initial moment is the element's entry, or the
    largest of its ions'. Read from pymatgen, not hand-written here.
    """
    table = MPRelaxSet.CONFIG["INCAR"]["MAGMOM"]
    out: dict[str, float] = {}
    for sym in set(symbols):
        values = {k: float(v) for k, v in table.items() if k.rstrip("0123456789+-") == sym}
        if values and max(values.values()) > 0.6:
            out[sym] = values.get(sym, max(values.values()))
    return out


def spin_setup(symbols: list[str], policy: str) -> tuple[bool, list[float] | None]:
    """(spin-polarised?, initial moments per atom) under ``dft.spin`` = auto | on | off.

    Ferromagnetic initialisation as in the paper's protocol: magnetic atoms start at MP's
    moment, the others at 0.
    """
    if policy == "off":
        return False, None
    moments = magnetic_moments(symbols)
    if policy == "auto" and not moments:
        return False, None
    return True, [moments.get(s, 0.0) for s in symbols]


def is_hexagonal(atoms) -> bool:
    try:
        return atoms.cell.get_bravais_lattice(eps=1e-3).name == "HEX"
    except Exception:  # ASE cannot classify some nearly degenerate cells; treat as not hexagonal
        return False


def prepare_job(atoms, settings: dict, label: str, mode: str = "static", kind: str = "crystal",
                relax: dict | None = None, spin: tuple[bool, list[float] | None] | None = None,
                txt: str | None = None) -> dict:
    """A JSON-able job for ``atoms`` (the host side decides spin and Γ-centring)."""
    symbols = atoms.get_chemical_symbols()
    spinpol, magmoms = spin if spin is not None else spin_setup(symbols, settings["spin"])
    gamma = settings["kpts_gamma"] == "always" or (
        settings["kpts_gamma"] == "hexagonal" and is_hexagonal(atoms)
    )
    return {
        "label": label,
        "kind": kind,
        "atoms": atoms_to_dict(atoms),
        "settings": dict(settings),
        "mode": mode,
        "relax": relax,
        "spinpol": bool(spinpol),
        "magmoms": magmoms,
        "gamma": bool(gamma),
        "txt": txt,
    }


# -- calculation side -----------------------------------------------------------------------
def kpoint_grid(atoms, density: float, molecule: bool) -> tuple[int, int, int]:
    """Grid sizes for ``density`` k-points per Å⁻¹ (Γ only for a molecule in a box).

    Sizes along lattice vectors that the crystal's rotations mix are made equal (the largest
    wins): otherwise, e.g. in a body-centred primitive cell, the grid breaks the point group
    and GPAW has to compute several times more irreducible k-points.
    """
    if molecule:
        return (1, 1, 1)

    sizes = [int(n) for n in kptdensity2monkhorstpack(atoms, kptdensity=density, even=False)]
    for group in _mixed_axes(atoms):
        n = max(sizes[i] for i in group)
        for i in group:
            sizes[i] = n
    return tuple(sizes)


def _mixed_axes(atoms, symprec: float = 1e-4) -> list[set[int]]:
    """Groups of lattice axes connected by the crystal's rotations (spglib)."""
    try:
        sym = spglib.get_symmetry(
            (np.asarray(atoms.cell), atoms.get_scaled_positions(), atoms.numbers), symprec=symprec
        )
    except Exception:  # no symmetry information: keep the density's grid
        return []
    if not sym:
        return []
    parent = [0, 1, 2]

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for rot in sym["rotations"]:
        for i in range(3):
            for j in range(3):
                if i != j and rot[i][j] != 0:
                    parent[find(i)] = find(j)
    groups: dict[int, set[int]] = {}
    for i in range(3):
        groups.setdefault(find(i), set()).add(i)
    return [g for g in groups.values() if len(g) > 1]


def make_calculator(job: dict, ecut_ev: float, atoms) -> tuple[Any, dict]:
    """The ASE calculator of a job and a description of its k-points."""
    s = job["settings"]
    if s["code"] == "emt":
        return EMT(), {"kpts": None}
    from gpaw import GPAW, PW, FermiDirac  # noqa: PLC0415 - optional dependency

    kpts = kpoint_grid(atoms, s["kpt_density"], job["kind"] == "molecule")
    calc = GPAW(mode=PW(ecut_ev), xc=s["xc"], kpts={"size": kpts, "gamma": job["gamma"]},
                occupations=FermiDirac(s["smearing_ev"]), spinpol=job["spinpol"],
                convergence={"energy": s["scf_energy_tol_ev"]}, maxiter=s["scf_maxiter"],
                txt=job.get("txt") or None)
    return calc, {"kpts": list(kpts), "gamma": job["gamma"]}


def _scf_iterations(calc) -> int | None:
    getter = getattr(calc, "get_number_of_iterations", None)
    try:
        return int(getter()) if getter is not None else None
    except Exception:  # not every calculator counts iterations
        return None


def _observables(atoms, calc, spinpol: bool) -> dict:
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces()
    out = {"energy_ev": energy, "energy_per_atom": energy / len(atoms),
           "max_force": float(np.max(np.linalg.norm(forces, axis=1))) if len(atoms) else 0.0,
           "scf_iterations": _scf_iterations(calc), "magmom": None, "stress_gpa": None}
    try:
        out["stress_gpa"] = (
            (np.asarray(atoms.get_stress(voigt=True)) * _GPA_PER_EV_ANG3).round(4).tolist()
        )
    except Exception:  # molecules in a box and some calculators give no stress
        pass
    if spinpol:
        try:
            out["magmom"] = float(atoms.get_magnetic_moment())
        except Exception:
            pass
    return out


def _static(atoms, job: dict, ecut_ev: float) -> dict:
    if job.get("magmoms") is not None:
        atoms.set_initial_magnetic_moments(job["magmoms"])
    calc, kinfo = make_calculator(job, ecut_ev, atoms)
    atoms.calc = calc
    out = _observables(atoms, calc, job.get("spinpol", False))
    out.update(kinfo)
    out["ecut_ev"] = ecut_ev
    return out


def _relax(atoms, job: dict) -> dict:
    """Positions (and cell) with BFGS at ``relax.ecut_ev``; returns the optimiser's record."""
    r = job["relax"]
    if job.get("magmoms") is not None:
        atoms.set_initial_magnetic_moments(job["magmoms"])
    calc, kinfo = make_calculator(job, r["ecut_ev"], atoms)
    atoms.calc = calc
    target = FrechetCellFilter(atoms) if r.get("cell") else atoms
    opt = BFGS(target, logfile=None)
    converged = bool(opt.run(fmax=r["fmax"], steps=r["steps"]))
    obs = _observables(atoms, calc, job.get("spinpol", False))
    obs.update(kinfo)
    return {
        "converged": converged,
        "steps": int(opt.nsteps),
        "ecut_ev": r["ecut_ev"],
        "cell": bool(r.get("cell")),
        "fmax": r["fmax"],
        "final": obs,
    }


def run_job(job: dict) -> dict:
    """Run one job; never raises (errors become ``status: failed`` / ``not_converged``)."""
    start = time.perf_counter()
    result: dict[str, Any] = {
        "label": job.get("label"),
        "status": "ok",
        "error": None,
        "mode": job["mode"],
        "spinpol": job.get("spinpol", False),
    }
    try:
        atoms = atoms_from_dict(job["atoms"])
        ecut = float(job["settings"]["ecut_ev"])
        ionic_steps = 0
        if job["mode"] == "relax":
            rec = _relax(atoms, job)
            result["relax"] = rec
            ionic_steps = rec["steps"]
            if not rec["converged"]:
                result["status"] = "not_converged"
                result["error"] = (
                    f"relaxation not converged in {rec['steps']} steps (fmax {rec['fmax']} eV/Å)"
                )
            if math.isclose(rec["ecut_ev"], ecut):
                result.update(rec["final"])  # already at the static settings
            else:
                # fresh calculator, relaxed geometry
                atoms = atoms_from_dict({**atoms_to_dict(atoms)})
                result.update(_static(atoms, job, ecut))
            result["atoms"] = atoms_to_dict(atoms)
        elif job["mode"] == "static":
            result.update(_static(atoms, job, ecut))
        else:
            raise ValueError(f"unknown job mode {job['mode']!r}")
        result["ionic_steps"] = ionic_steps
    except Exception as exc:  # every failure is recorded for this structure, never raised
        result.update(_classify_error(exc))
    result["wall_s"] = round(time.perf_counter() - start, 3)
    return result


def _classify_error(exc: Exception) -> dict:
    name = type(exc).__name__
    if name == "KohnShamConvergenceError":
        return {"status": "not_converged", "error": f"SCF not converged: {exc}"}
    log.debug("calculation failed", exc_info=True)
    return {"status": "failed", "error": f"{name}: {exc}"}
