"""Elemental reference energies μ_i, computed once per settings and cached on disk.

Reference states (documented in docs/validation.md):

* **Diatomic gases and halogens** (ASE reference state ``diatom`` — H, N, O, F — and the
  halogens Cl, Br, I, whose molecular crystals plain PBE barely binds): one molecule in a
  slightly anisotropic box (``dft.molecule_box_ang`` × (0.90, 0.95, 1.00), Γ only; anisotropy
  avoids degenerate states), bond length relaxed with the same settings. O₂ starts as the
  triplet (ASE's g2 moments). Noble-gas ``atom`` states are a single atom in the box.
* **Everything ASE can build** (``ase.build.bulk``): the ground-state prototype (fcc, bcc,
  hcp, diamond, rhombohedral, bct…) at ASE's experimental lattice constants, or relaxed
  with CHGNet first when ``references.geometry=mlip``.
* **Other elements** (B, P, S, Mn, Ga, Se, Te…: complex ground states ASE has no prototype
  for): ``<Element>.cif`` from ``references.structures_dir``; without one the error says so.

Energies are cached as ``<cache>/<namespace>/<Element>.json`` where the namespace is a hash
of everything that changes μ (DFT static settings, geometry recipe, MLIP settings when used,
recipe version). Failed references are not cached, so a rerun tries them again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, molecule
from ase.collections import g2
from ase.data import atomic_numbers, covalent_radii, reference_states
from ase.io import read
from pymatgen.core import Element

from genms.io import atomic_write_json
from genms.paths import user_cache_dir
from genms.validate import mlip
from genms.validate.config import (
    REFERENCE_RECIPE_VERSION,
    MLIPConfig,
    ReferenceConfig,
    ValidateConfig,
    _hash,
)
from genms.validate.dft import prepare_job
from genms.validate.launch import run_calculation

log = logging.getLogger(__name__)

#: Relaxation of a molecule's bond in its box (positions only, at the static settings).
MOLECULE_RELAX = {"fmax": 0.02, "steps": 40, "cell": False}
_BOX_ASPECT = (0.90, 0.95, 1.00)


class NoReferenceStructure(ValueError):
    """No reference structure can be built for an element."""


@dataclass(frozen=True)
class ReferenceStructure:
    element: str
    atoms: object  # ase.Atoms
    kind: str  # "crystal" | "molecule"
    source: str


def _is_gas(element: str) -> bool:
    state = reference_states[atomic_numbers[element]]
    return (state is not None and state.get("symmetry") in ("diatom", "atom")) or Element(
        element
    ).is_halogen


def _molecule(element: str, box: float):
    state = reference_states[atomic_numbers[element]]
    if state is not None and state.get("symmetry") == "atom":
        atoms, what = Atoms(element, positions=[[0, 0, 0]]), "atom"
    elif f"{element}2" in g2.names:
        atoms, what = molecule(f"{element}2"), f"{element}2 (g2 geometry)"
    else:
        d = 2 * covalent_radii[atomic_numbers[element]]
        atoms, what = (
            Atoms(f"{element}2", positions=[[0, 0, 0], [0, 0, d]]),
            f"{element}2 (d={d:.2f} Å start)",
        )
    atoms.set_cell(np.diag([box * f for f in _BOX_ASPECT]))
    atoms.center()
    atoms.pbc = True
    return atoms, f"{what} in a {box:g} Å box"


def reference_structure(
    element: str, cfg: ReferenceConfig, box_ang: float = 10.0
) -> ReferenceStructure:
    """The reference-state structure of ``element`` (see the module docstring)."""
    if element not in atomic_numbers:
        raise NoReferenceStructure(f"{element!r} is not an element symbol")
    if _has_file(cfg, element):
        path = Path(cfg.structures_dir).expanduser() / f"{element}.cif"
        atoms = read(path)
        if set(atoms.get_chemical_symbols()) != {element}:
            raise NoReferenceStructure(f"{path} must contain only {element}")
        return ReferenceStructure(element, atoms, "crystal", f"file {path.name}")
    if _is_gas(element):
        atoms, source = _molecule(element, box_ang)
        return ReferenceStructure(element, atoms, "molecule", source)
    try:
        atoms = bulk(element)
    except (ValueError, KeyError, NotImplementedError, TypeError) as exc:
        state = reference_states[atomic_numbers[element]] or {}
        raise NoReferenceStructure(
            f"no built-in reference structure for {element} (its ground state, "
            f"{state.get('symmetry', 'unknown')}, has no ASE prototype): put its ground-state "
            "structure "
            f"as {element}.cif in a folder and set references.structures_dir=<folder>"
        ) from exc
    state = reference_states[atomic_numbers[element]]
    return ReferenceStructure(
        element, atoms, "crystal", f"ase bulk {state['symmetry']} (experimental lattice)"
    )


# -- cache -------------------------------------------------------------------------------
def cache_root(cfg: ReferenceConfig) -> Path:
    if cfg.cache_dir and cfg.cache_dir != "auto":
        return Path(cfg.cache_dir).expanduser()
    return user_cache_dir() / "references"


def dft_namespace(cfg: ValidateConfig, element: str | None = None) -> str:
    """Cache namespace of DFT references; molecules (Γ only) ignore the k-point settings."""
    dft = cfg.dft.physics()
    # Reference prototypes are exactly symmetric already: symmetrisation does not change them.
    for key in ("relax_ecut_ev", "relax_fmax", "relax_steps", "relax_cell", "symmetrize_symprec"):
        dft.pop(key)
    molecule = element is not None and _is_gas(element) and not _has_file(cfg.references, element)
    if molecule:
        dft.pop("kpt_density")
        dft.pop("kpts_gamma")
    else:
        dft.pop("molecule_box_ang")
    key = {
        "dft": dft,
        "geometry": cfg.references.geometry if not molecule else "molecule",
        "mlip": cfg.mlip.settings_hash()
        if cfg.references.geometry == "mlip" and not molecule
        else None,
        "structures_dir": cfg.references.structures_dir,
        "recipe": REFERENCE_RECIPE_VERSION,
    }
    return f"{cfg.dft.code}-{_hash(key)}"


def _has_file(cfg: ReferenceConfig, element: str) -> bool:
    return (
        bool(cfg.structures_dir)
        and (Path(cfg.structures_dir).expanduser() / f"{element}.cif").exists()
    )


def mlip_namespace(cfg: MLIPConfig, refs: ReferenceConfig, box_ang: float = 10.0) -> str:
    key = {"mlip": cfg.settings_hash(), "structures_dir": refs.structures_dir, "box": box_ang,
           "recipe": REFERENCE_RECIPE_VERSION}
    return f"chgnet-{_hash(key)}"


class ReferenceCache:
    """``<root>/<namespace>/<Element>.json`` records, written atomically."""

    def __init__(self, root: str | Path, namespace: str) -> None:
        self.dir = Path(root) / namespace

    def get(self, element: str) -> dict | None:
        path = self.dir / f"{element}.json"
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            log.warning("ignoring an unreadable cached reference %s", path)
            return None

    def put(self, element: str, record: dict) -> None:
        atomic_write_json(self.dir / f"{element}.json", record, indent=1)


# -- computing one reference ---------------------------------------------------------------
def compute_dft_reference(element: str, cfg: ValidateConfig, log_dir: str | None = None) -> dict:
    """μ of ``element`` with the DFT settings of ``cfg`` (never raises; see ``status``)."""
    start = time.perf_counter()
    record: dict = {"element": element, "status": "failed", "error": None, "energy_per_atom": None,
                    "namespace": dft_namespace(cfg, element)}
    try:
        ref = reference_structure(element, cfg.references, cfg.dft.molecule_box_ang)
        atoms = ref.atoms
        record.update({"kind": ref.kind, "source": ref.source, "n_atoms": len(atoms)})
        if ref.kind == "crystal" and cfg.references.geometry == "mlip":
            atoms = mlip.relax(atoms, cfg.mlip).atoms
            record["source"] += ", relaxed with CHGNet"
        settings = cfg.dft.physics()
        spin = _molecule_spin(atoms) if ref.kind == "molecule" else None
        txt = (
            str(Path(log_dir) / f"ref_{element}.txt") if log_dir and cfg.launch.keep_logs else None
        )
        if ref.kind == "molecule" and len(atoms) > 1:
            record["source"] += ", bond relaxed"
            job = prepare_job(
                atoms,
                settings,
                f"ref:{element}",
                mode="relax",
                kind="molecule",
                relax={**MOLECULE_RELAX, "ecut_ev": cfg.dft.ecut_ev},
                spin=spin,
                txt=txt,
            )
        else:
            job = prepare_job(atoms, settings, f"ref:{element}", kind=ref.kind, spin=spin, txt=txt)
        # Γ-only molecules run on one rank: GPAW 26's band/domain split of a single k-point
        # stops with an AssertionError in its BLACS matrix layout under mpiexec -n 2.
        launch = (
            cfg.launch if ref.kind == "crystal" else dataclasses.replace(cfg.launch, mpi_ranks=1)
        )
        result = run_calculation(job, launch, log_dir)
        record["dft"] = {k: v for k, v in result.items() if k != "atoms"}
        record["status"], record["error"] = result["status"], result.get("error")
        # A molecule whose bond relaxation stopped early still has a usable energy (the
        # status says so); an SCF failure has none.
        record["energy_per_atom"] = result.get("energy_per_atom")
    except Exception as exc:  # a bad reference fails the compounds that need it, not the batch
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["wall_s"] = round(time.perf_counter() - start, 3)
    return record


def _molecule_spin(atoms) -> tuple[bool, list[float] | None]:
    moments = atoms.get_initial_magnetic_moments()
    if np.any(np.abs(moments) > 0):
        return True, [float(m) for m in moments]
    return False, None


def compute_mlip_reference(
    element: str, cfg: MLIPConfig, refs: ReferenceConfig, box_ang: float = 10.0
) -> dict:
    """μ of ``element`` with CHGNet (crystals: cell and positions relaxed; molecules: positions)."""
    start = time.perf_counter()
    record: dict = {"element": element, "status": "failed", "error": None, "energy_per_atom": None,
                    "namespace": mlip_namespace(cfg, refs, box_ang)}
    try:
        ref = reference_structure(element, refs, box_ang)
        res = mlip.relax(ref.atoms, cfg, relax_cell=ref.kind == "crystal")
        record.update(
            {
                "kind": ref.kind,
                "source": ref.source,
                "n_atoms": len(ref.atoms),
                "status": "ok",
                "energy_per_atom": res.energy_per_atom,
                "mlip": res.record(),
            }
        )
    # recorded per element; compounds needing it get no MLIP formation energy
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["wall_s"] = round(time.perf_counter() - start, 3)
    return record
