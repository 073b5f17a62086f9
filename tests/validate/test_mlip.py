"""Displacement bookkeeping (always) and the CHGNet pre-relaxation (when chgnet is installed)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from ase.build import bulk

from genms.crystal.convert import from_ase
from genms.validate.batch import run_validation
from genms.validate.config import MLIPConfig
from genms.validate.mlip import displacements
from genms.validate.tasks import StructureTask
from tests.validate.helpers import emt_config

HAS_CHGNET = importlib.util.find_spec("chgnet") is not None


def test_rigid_translation_and_cell_change_do_not_count_as_displacement():
    rng = np.random.default_rng(0)
    frac = rng.random((5, 3))
    shifted = np.mod(frac + [0.3, 0.95, 0.1], 1.0)  # rigid shift across the cell boundary
    assert np.allclose(displacements(frac, shifted, np.eye(3) * 4.0), 0.0)


def test_one_atom_moving_is_measured_in_the_final_cell():
    frac = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    moved = frac.copy()
    moved[1, 0] = 0.5 + 0.1
    d = displacements(frac, moved, np.eye(3) * 5.0)
    # mean removal splits the 0.5 Å move between the two atoms
    assert np.allclose(d, [0.25, 0.25])
    wrapped = frac.copy()
    wrapped[0, 2] = 0.98  # moved -0.02 across the boundary
    assert displacements(frac, wrapped, np.eye(3) * 5.0).max() == pytest.approx(0.05)


@pytest.mark.chgnet
@pytest.mark.skipif(not HAS_CHGNET, reason="chgnet is not installed (pip install torch==2.13.0 "
                                           "chgnet)")
def test_chgnet_relaxes_rattled_nacl_and_gives_a_formation_energy(tmp_path):
    atoms = bulk("NaCl", "rocksalt", a=5.9)
    atoms.rattle(0.05, seed=3)
    cfg = emt_config(tmp_path, protocol="none", mlip=MLIPConfig(enabled=True))
    rec = run_validation([StructureTask("nacl", from_ase(atoms))], cfg, tmp_path / "out").records[0]
    assert rec["status"] == "ok", rec["error"]
    m = rec["mlip"]
    assert m["converged"] and m["steps"] > 0 and m["max_force"] <= 0.05
    assert m["volume_change"] < 0  # 5.9 Å is far above NaCl's ~5.6-5.7 Å
    assert m["displacement_max_ang"] > 0.01
    assert -2.4 < rec["e_form_mlip"] < -1.8  # Materials Project: -2.11 eV/atom
    assert rec["dft"] is None and (tmp_path / "out" / "structures" / "nacl_mlip.cif").exists()
