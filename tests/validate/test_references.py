"""Reference structures, the on-disk cache and its namespaces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

import genms.validate.references as references_module
from genms.validate.config import DFTSettings, MLIPConfig, ReferenceConfig, ValidateConfig
from genms.validate.references import (
    NoReferenceStructure,
    ReferenceCache,
    compute_dft_reference,
    dft_namespace,
    mlip_namespace,
    reference_structure,
)

from .helpers import emt_config

REF = ReferenceConfig()


def test_solids_use_ase_prototypes_at_experimental_lattice():
    cu = reference_structure("Cu", REF)
    assert cu.kind == "crystal" and len(cu.atoms) == 1 and "fcc" in cu.source
    assert cu.atoms.cell.cellpar()[0] == pytest.approx(3.61 / np.sqrt(2), abs=0.01)
    ti = reference_structure("Ti", REF)
    assert len(ti.atoms) == 2 and "hcp" in ti.source


def test_gases_and_halogens_are_molecules_in_a_box():
    o2 = reference_structure("O", REF, box_ang=8.0)
    assert o2.kind == "molecule" and len(o2.atoms) == 2
    assert list(o2.atoms.get_initial_magnetic_moments()) == [1.0, 1.0]  # triplet start
    lengths = o2.atoms.cell.lengths()
    # anisotropic box
    assert lengths[2] == pytest.approx(8.0) and len(set(np.round(lengths, 3))) == 3
    for el in ("Cl", "Br", "I", "N"):
        assert reference_structure(el, REF).kind == "molecule"
    he = reference_structure("He", REF)
    assert he.kind == "molecule" and len(he.atoms) == 1


def test_elements_without_prototype_explain_the_fix(tmp_path):
    with pytest.raises(NoReferenceStructure, match="structures_dir"):
        reference_structure("P", REF)

    write(
        tmp_path / "P.cif", Atoms("P2", cell=[4, 4, 4], positions=[[0, 0, 0], [1, 1, 1]], pbc=True)
    )
    p = reference_structure("P", ReferenceConfig(structures_dir=str(tmp_path)))
    assert p.kind == "crystal" and p.source == "file P.cif" and len(p.atoms) == 2
    write(tmp_path / "S.cif", bulk("Cu"))
    with pytest.raises(NoReferenceStructure, match="only S"):
        reference_structure("S", ReferenceConfig(structures_dir=str(tmp_path)))


def test_cache_round_trip_and_namespaces(tmp_path):
    cache = ReferenceCache(tmp_path, "ns")
    assert cache.get("Cu") is None
    cache.put("Cu", {"element": "Cu", "energy_per_atom": -3.7})
    assert ReferenceCache(tmp_path, "ns").get("Cu")["energy_per_atom"] == -3.7
    (tmp_path / "ns" / "Au.json").write_text("{broken")
    assert cache.get("Au") is None
    a, b = ValidateConfig(), ValidateConfig(dft=DFTSettings(ecut_ev=600.0))
    assert dft_namespace(a) != dft_namespace(b)
    assert dft_namespace(a) == dft_namespace(ValidateConfig(dft=DFTSettings(relax_steps=3)))
    assert dft_namespace(a) != dft_namespace(
        ValidateConfig(references=ReferenceConfig(geometry="mlip"))
    )
    assert mlip_namespace(MLIPConfig(), REF) != mlip_namespace(MLIPConfig(fmax=0.1), REF)
    # Molecules are Γ-only: their cached energy does not depend on the k-point settings.
    dense = ValidateConfig(dft=DFTSettings(kpt_density=5.0))
    assert dft_namespace(a, "O") == dft_namespace(dense, "O")
    assert dft_namespace(a, "Mg") != dft_namespace(dense, "Mg")
    assert dft_namespace(a, "O") != dft_namespace(
        ValidateConfig(dft=DFTSettings(molecule_box_ang=8.0)), "O"
    )


def test_emt_reference_record(tmp_path):
    cfg = emt_config(tmp_path)
    rec = compute_dft_reference("Cu", cfg)
    assert rec["status"] == "ok" and rec["kind"] == "crystal"
    assert rec["energy_per_atom"] == pytest.approx(rec["dft"]["energy_ev"])
    bad = compute_dft_reference("P", cfg)
    assert (
        bad["status"] == "failed"
        and bad["energy_per_atom"] is None
        and "structures_dir" in bad["error"]
    )


def test_molecule_references_run_on_one_rank(tmp_path, monkeypatch):
    """GPAW cannot split a Γ-only molecule over MPI ranks; crystals keep the configured ranks."""
    seen: dict[str, int] = {}

    def fake_run(job, launch, log_dir=None):
        seen[job["label"]] = launch.mpi_ranks
        return {"status": "ok", "energy_per_atom": -1.0}

    monkeypatch.setattr(references_module, "run_calculation", fake_run)
    base = emt_config(tmp_path)
    cfg = dataclasses.replace(
        base, launch=dataclasses.replace(base.launch, launcher="subprocess", mpi_ranks=2)
    )
    assert compute_dft_reference("F", cfg)["status"] == "ok"
    assert compute_dft_reference("Cu", cfg)["status"] == "ok"
    assert seen == {"ref:F": 1, "ref:Cu": 2}
