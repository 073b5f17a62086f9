"""Job building and running with ASE's EMT (the same code path GPAW takes, without GPAW)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.build import bulk as build
from ase.calculators.calculator import kptdensity2monkhorstpack

from genms.validate.config import DFTSettings
from genms.validate.dft import (
    atoms_from_dict,
    atoms_to_dict,
    is_hexagonal,
    kpoint_grid,
    magnetic_moments,
    prepare_job,
    run_job,
    spin_setup,
)

from .helpers import cu3au_atoms

EMT = DFTSettings(code="emt").physics()


def test_atoms_round_trip():
    atoms = cu3au_atoms()
    back = atoms_from_dict(atoms_to_dict(atoms))
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    assert np.allclose(back.cell, atoms.cell) and np.allclose(back.positions, atoms.positions)


def test_kpoint_grid_follows_density_and_molecules_use_gamma():
    small = bulk("Cu", "fcc", a=3.6, cubic=True)  # a = 3.6 Å
    big = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    g_small = kpoint_grid(small, 3.5, molecule=False)
    g_big = kpoint_grid(big, 3.5, molecule=False)
    assert g_small == (7, 7, 7)  # ceil(2π·3.5/3.6) = 7
    assert g_big[0] < g_small[0] and g_big[1:] == g_small[1:]
    assert kpoint_grid(small, 3.5, molecule=True) == (1, 1, 1)


def test_grid_sizes_are_equal_along_axes_the_symmetry_mixes():
    bct = build("In", "bct", a=3.25, c=4.95)  # body-centred primitive: equal lengths, mixed axes

    raw = tuple(int(n) for n in kptdensity2monkhorstpack(bct, kptdensity=3.5, even=False))
    grid = kpoint_grid(bct, 3.5, molecule=False)
    assert len(set(raw)) > 1  # the plain density rule breaks the symmetry here
    assert len(set(grid)) == 1 and grid[0] == max(raw)
    # hexagonal: c is its own axis
    assert kpoint_grid(build("Mg"), 3.5, molecule=False) == (8, 8, 5)


def test_spin_follows_mp_magnetic_elements():
    assert magnetic_moments(["Fe", "O"]) == {"Fe": 5.0}
    assert magnetic_moments(["Na", "Cl", "La"]) == {}  # La only has MP's default 0.6
    assert spin_setup(["Na", "Cl"], "auto") == (False, None)
    assert spin_setup(["Fe", "O", "O"], "auto") == (True, [5.0, 0.0, 0.0])
    assert spin_setup(["Na", "Cl"], "on") == (True, [0.0, 0.0])
    assert spin_setup(["Fe"], "off") == (False, None)


def test_gamma_centring_policy():
    hcp = bulk("Mg")
    assert is_hexagonal(hcp) and not is_hexagonal(bulk("Cu"))
    mp_like = DFTSettings(kpts_gamma="hexagonal").physics()
    assert prepare_job(hcp, mp_like, "mg")["gamma"] is True
    assert prepare_job(bulk("Cu"), mp_like, "cu")["gamma"] is False
    assert prepare_job(bulk("Cu"), DFTSettings().physics(), "cu")["gamma"] is True


def test_static_job_with_emt():
    res = run_job(prepare_job(cu3au_atoms(), EMT, "x"))
    assert res["status"] == "ok" and res["error"] is None
    assert res["energy_per_atom"] == pytest.approx(res["energy_ev"] / 4)
    assert res["max_force"] < 1e-6  # L1_2 positions are fixed by symmetry
    assert len(res["stress_gpa"]) == 6 and res["wall_s"] >= 0


def test_relax_job_lowers_the_energy_and_reports_steps():
    atoms = cu3au_atoms(a=3.8)
    atoms.rattle(0.03, seed=1)
    static = run_job(prepare_job(atoms, EMT, "s"))
    relax = {"ecut_ev": 800.0, "cell": True, "fmax": 0.05, "steps": 200}
    res = run_job(prepare_job(atoms, EMT, "r", mode="relax", relax=relax))
    assert res["status"] == "ok", res["error"]
    assert res["relax"]["converged"] and res["ionic_steps"] > 1
    assert res["energy_ev"] < static["energy_ev"]
    assert res["max_force"] < 0.05
    # the cell shrank
    assert abs(np.linalg.det(np.array(res["atoms"]["cell"]))) < atoms.get_volume()


def test_unconverged_relaxation_is_recorded():
    atoms = cu3au_atoms(a=3.9)
    atoms.rattle(0.1, seed=2)
    res = run_job(prepare_job(atoms, EMT, "r", mode="relax",
                              relax={"ecut_ev": 800.0, "cell": True, "fmax": 1e-6, "steps": 2}))
    assert res["status"] == "not_converged" and "2 steps" in res["error"]
    assert res["energy_ev"] is not None  # the energy of the last geometry is still reported


def test_errors_become_failed_results():
    na = Atoms("Na", cell=[3, 3, 3], pbc=True)  # EMT has no sodium parameters
    res = run_job(prepare_job(na, EMT, "na"))
    assert res["status"] == "failed" and "Na" in res["error"]
    assert run_job({**prepare_job(na, EMT, "na"), "mode": "dance"})["status"] == "failed"
