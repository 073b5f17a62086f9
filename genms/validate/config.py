"""Typed configs of the validation stage (``conf/validate.yaml``, ``conf/dft/``).

* :class:`DFTSettings` — everything that changes a DFT energy (code, functional, cutoff,
  k-point density, smearing, spin, SCF limits, relaxation settings). Its hash keys the
  elemental-reference cache, and a results journal refuses to resume under other settings.
* :class:`LaunchConfig` — how one calculation runs (in this process, or in a child process,
  serial or under ``mpiexec``; threads, niceness, time limit). Not part of the hash.
* :class:`MLIPConfig` — the CHGNet pre-relaxation.
* :class:`ReferenceConfig` — the elemental references (geometry, cache folder).
* :class:`ValidateConfig` — the command (``genms eval dft`` extends it:
  :mod:`genms.benchmarks.dft`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from genms.configs import ranged
from genms.crystal.composition import MAX_CELL_ATOMS
from genms.parallel.executor import ExecutorConfig
from genms.paths import PathsConfig

CODES = ("gpaw", "emt")
SPIN_POLICIES = ("auto", "on", "off")
KPTS_GAMMA = ("always", "hexagonal", "never")
PROTOCOLS = ("static", "relax", "none")
LAUNCHERS = ("subprocess", "inprocess")
REFERENCE_GEOMETRIES = ("experimental", "mlip")

#: Bump when the way references are built changes, so old cached energies are not reused.
REFERENCE_RECIPE_VERSION = 1

#: Below this cutoff GPAW's plane-wave stress lacks the Pulay correction badly (about 11 GPa
#: at 500 eV), so a variable-cell relaxation goes to a wrong cell.
MIN_CELL_RELAX_ECUT_EV = 800.0


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)} (got {value!r})")


@dataclass(frozen=True)
class DFTSettings:
    """Physics settings of one DFT calculation (``conf/dft/<preset>.yaml``).

    Attributes:
      preset: the preset's name (recorded only; not hashed).
      code: ``gpaw`` (PBE plane waves, PAW setups from gpaw-data) or ``emt`` (ASE's effective
        medium theory: a fast stand-in for tests; Al, Cu, Ag, Au, Ni, Pd, Pt, C, N, O, H only).
      xc: exchange-correlation functional.
      ecut_ev: plane-wave cutoff of static calculations (eV).
      kpt_density: k-points per Å⁻¹ along each reciprocal vector (N_i = ceil(2π·density/|a_i|)
        for an orthogonal cell), ASE's convention.
      kpts_gamma: ``always`` Γ-centred grids, ``hexagonal`` Γ-centred for hexagonal cells and
        Monkhorst–Pack otherwise (the Materials Project scheme), ``never``.
      smearing_ev: Fermi–Dirac width (eV).
      spin: ``auto`` spin-polarised when a magnetic element is present (initial moments from
        the Materials Project's relax set), ``on``, ``off``.
      scf_maxiter: SCF iterations before a calculation counts as not converged.
      scf_energy_tol_ev: SCF energy convergence (eV per valence electron).
      molecule_box_ang: edge of the box around diatomic references (Å).
      relax_ecut_ev: cutoff of the optional full DFT relaxation (≥ 800 eV for cell relaxation).
      relax_fmax: force threshold of a relaxation (eV/Å).
      relax_steps: optimiser steps before a relaxation counts as not converged.
      relax_cell: relax the cell too (FrechetCellFilter) or positions only.
      symmetrize_symprec: before DFT, snap the structure onto the symmetry found within this
        tolerance (Å; ASE ``refine_symmetry``); ``null`` = off. CHGNet relaxes in float32, and
        the resulting ~1e-5 Å noise hides the symmetry from GPAW (tolerance 1e-7), which then
        computes several times more k-points.
    """

    preset: str = "custom"
    code: str = "gpaw"
    xc: str = "PBE"
    ecut_ev: float = ranged(520.0, 0, 5000, lo_open=True)
    kpt_density: float = ranged(3.5, 0, 100, lo_open=True)
    kpts_gamma: str = "always"
    smearing_ev: float = ranged(0.05, 0, 10)
    spin: str = "auto"
    scf_maxiter: int = ranged(300, 1, 100_000)
    scf_energy_tol_ev: float = ranged(5e-4, 0, 1, lo_open=True)
    molecule_box_ang: float = ranged(10.0, 0, 100, lo_open=True)
    relax_ecut_ev: float = ranged(800.0, 0, 5000, lo_open=True)
    relax_fmax: float = ranged(0.05, 0, 100, lo_open=True)
    relax_steps: int = ranged(60, 0, 100_000)
    relax_cell: bool = True
    symmetrize_symprec: float | None = ranged(1e-3, 0, 1)

    def __post_init__(self) -> None:
        check_choice("dft.code", self.code, CODES)
        check_choice("dft.spin", self.spin, SPIN_POLICIES)
        check_choice("dft.kpts_gamma", self.kpts_gamma, KPTS_GAMMA)
        if self.ecut_ev <= 0 or self.kpt_density <= 0 or self.smearing_ev < 0:
            raise ValueError("dft.ecut_ev and dft.kpt_density must be > 0, dft.smearing_ev >= 0")
        if self.code == "gpaw" and self.relax_cell and self.relax_ecut_ev < MIN_CELL_RELAX_ECUT_EV:
            raise ValueError(
                f"dft.relax_ecut_ev={self.relax_ecut_ev:g} is too low for a cell relaxation: "
                "GPAW's "
                f"plane-wave stress has no Pulay correction; use >= {MIN_CELL_RELAX_ECUT_EV:g} eV "
                "or dft.relax_cell=false"
            )

    def physics(self) -> dict[str, Any]:
        """The settings that change energies (what the hash covers)."""
        d = asdict(self)
        d.pop("preset")
        return d

    def static_hash(self) -> str:
        """Hash of the settings that change a static energy (relaxation settings excluded)."""
        d = self.physics()
        for key in (
            "relax_ecut_ev",
            "relax_fmax",
            "relax_steps",
            "relax_cell",
            "symmetrize_symprec",
        ):
            d.pop(key)
        return _hash(d)


def _hash(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LaunchConfig:
    """How one calculation runs.

    Attributes:
      launcher: ``subprocess`` (a fresh Python per calculation: crash isolation, a time limit,
        one BLAS thread; MPI when ``mpi_ranks`` > 1) or ``inprocess`` (tests, EMT).
      mpi_ranks: MPI ranks per calculation (``mpiexec -n``); 1 = serial.
      mpiexec: the MPI launcher command.
      threads: BLAS/OpenMP threads per rank (1 is much faster for GPAW).
      nice: niceness of the child process (0 = unchanged).
      timeout_s: wall-clock limit of one calculation (``null`` = none).
      keep_logs: keep each calculation's GPAW text log in the output folder.
    """

    launcher: str = "subprocess"
    mpi_ranks: int = ranged(1, 1, 100_000)
    mpiexec: str = "mpiexec"
    threads: int = ranged(1, 1, 1024)
    nice: int = ranged(0, -20, 19)
    timeout_s: float | None = ranged(7200.0, 0, 10**7, lo_open=True)
    keep_logs: bool = True

    def __post_init__(self) -> None:
        check_choice("launch.launcher", self.launcher, LAUNCHERS)
        if self.mpi_ranks < 1 or self.threads < 1:
            raise ValueError("launch.mpi_ranks and launch.threads must be >= 1")
        if self.mpi_ranks > 1 and self.launcher != "subprocess":
            raise ValueError("launch.mpi_ranks > 1 needs launch.launcher=subprocess")


@dataclass(frozen=True)
class MLIPConfig:
    """CHGNet pre-relaxation (positions and cell).

    Attributes:
      enabled: run it (skipped with a warning when chgnet is not installed, unless ``required``).
      required: fail the command when chgnet is missing instead of skipping the step.
      model: CHGNet model version (shipped inside the chgnet wheel).
      fmax: force threshold (eV/Å).
      steps: optimiser steps at most.
      relax_cell: relax the cell as well as the positions.
      threads: torch threads in the process doing the relaxation.
    """

    enabled: bool = True
    required: bool = False
    model: str = "0.3.0"
    fmax: float = ranged(0.05, 0, 100, lo_open=True)
    steps: int = ranged(500, 0, 1_000_000)
    relax_cell: bool = True
    threads: int = ranged(1, 1, 1024)

    def settings_hash(self) -> str:
        d = asdict(self)
        for key in ("enabled", "required", "threads"):
            d.pop(key)
        return _hash(d)


@dataclass(frozen=True)
class ReferenceConfig:
    """Elemental references.

    Attributes:
      geometry: ``experimental`` — ASE's ground-state prototypes at experimental lattice
        constants (diatomic gases relaxed in a box); ``mlip`` — the same prototypes
        relaxed with CHGNet first (molecules keep their DFT relaxation).
      cache_dir: where reference energies are cached (``auto`` = ~/.cache/genms/references).
      structures_dir: optional folder of ``<Element>.cif`` files that replace the built-in
        prototypes (needed for elements whose ground state ASE cannot build, e.g. P, S, Se).
    """

    geometry: str = "experimental"
    cache_dir: str = "auto"
    structures_dir: str | None = None

    def __post_init__(self) -> None:
        check_choice("references.geometry", self.geometry, REFERENCE_GEOMETRIES)


def serial_executor() -> ExecutorConfig:
    return ExecutorConfig(name="serial", max_retries=0, cpu_batch=1)


@dataclass(frozen=True)
class ValidateConfig:
    """``genms validate <cifs or run folders>`` (conf/validate.yaml).

    Attributes:
      inputs: CIF files, folders of CIFs, or ``genms generate`` run folders.
      out_dir: results folder (``null`` = the Hydra run folder); rerunning on it resumes.
      protocol: ``static`` (MLIP pre-relaxation then a DFT static), ``relax`` (then a full DFT
        relaxation of positions and cell at ``dft.relax_ecut_ev``, then a static), ``none``
        (MLIP only).
      relax_ids: structures (ids) that get the full DFT relaxation even when protocol=static.
      top: only the first ``top`` structures of each input (``null`` = all).
      retry_failed: rerun structures whose earlier attempt failed (finished ones are skipped).
      max_atoms: skip larger cells (recorded as skipped).
    """

    inputs: list[str] = field(default_factory=list)
    out_dir: str | None = None
    protocol: str = "static"
    relax_ids: list[str] = field(default_factory=list)
    top: int | None = ranged(None, 1, 1_000_000)
    retry_failed: bool = False
    max_atoms: int | None = ranged(40, 1, MAX_CELL_ATOMS)
    dft: DFTSettings = field(default_factory=DFTSettings)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    mlip: MLIPConfig = field(default_factory=MLIPConfig)
    references: ReferenceConfig = field(default_factory=ReferenceConfig)
    executor: ExecutorConfig = field(default_factory=serial_executor)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        check_choice("protocol", self.protocol, PROTOCOLS)

    def fingerprint(self) -> str:
        """What a results journal must match to be resumed."""
        return _hash(
            {
                "dft": self.dft.physics(),
                "mlip": self.mlip.settings_hash() if self.mlip.enabled else None,
                "protocol": self.protocol,
                "references": self.references.geometry,
                "recipe": REFERENCE_RECIPE_VERSION,
            }
        )
