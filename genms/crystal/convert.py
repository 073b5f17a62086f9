"""Conversions between :class:`Crystal` and pymatgen ``Structure``, CIF text and ASE ``Atoms``.

:func:`to_crystal` takes whatever a user holds — a :class:`Crystal`, a pymatgen ``Structure``,
ASE ``Atoms``, a structure dict (``Structure.as_dict()`` or ``{lattice, frac_coords,
atomic_numbers}``) or the path of a CIF / POSCAR / CONTCAR / other file pymatgen or ASE reads —
and every function that accepts a structure goes through it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import ase.io
import numpy as np
from ase import Atoms
from pymatgen.core import IStructure, Lattice, Structure
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.io.vasp import Poscar

from genms.crystal.structure import Crystal


class StructureReadError(ValueError):
    """A structure file or object that cannot be turned into a :class:`Crystal`."""


class CIFParseError(StructureReadError):
    """Raised when CIF text cannot be turned into a structure."""


def to_pymatgen(crystal: Crystal) -> Structure:
    return Structure(
        Lattice(crystal.lattice),
        [int(z) for z in crystal.atomic_numbers],
        crystal.frac_coords,
        coords_are_cartesian=False,
    )


def from_pymatgen(structure: Structure, properties: dict | None = None) -> Crystal:
    """Ordered structures only: a disordered site has no single atomic number."""
    if not structure.is_ordered:
        raise ValueError(
            f"structure {structure.composition.reduced_formula} has partial occupancies; "
            "order it first (e.g. pymatgen's OrderDisorderedStructureTransformation)"
        )
    numbers = np.array([site.specie.Z for site in structure], dtype=np.int64)
    return Crystal(structure.frac_coords, numbers, structure.lattice.matrix, properties or {})


def from_cif(text: str, properties: dict | None = None, primitive: bool = False) -> Crystal:
    """Parse CIF text (first block). Raises :class:`CIFParseError` on any parse failure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser = CifParser.from_str(text)
            structures = parser.parse_structures(primitive=primitive, on_error="raise")
    except Exception as exc:  # pymatgen raises many exception types for bad CIFs
        raise CIFParseError(f"could not parse CIF: {type(exc).__name__}: {exc}") from exc
    if not structures:
        raise CIFParseError("CIF contains no structure")
    try:
        return from_pymatgen(structures[0], properties)
    except ValueError as exc:
        raise CIFParseError(str(exc)) from exc


def to_cif(crystal: Crystal, symprec: float | None = None) -> str:
    """CIF text (P1 unless ``symprec`` is given, then symmetrised)."""
    return str(CifWriter(to_pymatgen(crystal), symprec=symprec))


def to_ase(crystal: Crystal) -> Atoms:
    return Atoms(
        numbers=crystal.atomic_numbers,
        scaled_positions=crystal.frac_coords,
        cell=crystal.lattice,
        pbc=True,
    )


def from_ase(atoms: Atoms, properties: dict | None = None) -> Crystal:
    if not all(atoms.pbc):
        raise ValueError("ASE Atoms must be periodic in all three directions (pbc=True)")
    return Crystal(
        atoms.get_scaled_positions(wrap=True),
        atoms.get_atomic_numbers(),
        np.asarray(atoms.cell),
        properties or {},
    )


def niggli_reduce(crystal: Crystal) -> Crystal:
    """The same crystal in its Niggli-reduced cell (canonical lattice for learning)."""
    structure = to_pymatgen(crystal).get_reduced_structure(reduction_algo="niggli")
    return from_pymatgen(structure, crystal.properties)


#: File names read as VASP POSCAR/CONTCAR when their suffix says nothing.
VASP_NAMES = ("POSCAR", "CONTCAR")
#: Suffixes of structure files picked up from folders (besides POSCAR/CONTCAR names).
STRUCTURE_SUFFIXES = (".cif", ".mcif", ".vasp", ".poscar")


def is_structure_file(path: str | os.PathLike) -> bool:
    """A CIF, or a VASP POSCAR/CONTCAR (by name or by a ``.vasp``/``.poscar`` suffix)."""
    p = Path(path)
    return p.suffix.lower() in STRUCTURE_SUFFIXES or any(
        p.name.upper().startswith(n) for n in VASP_NAMES
    )


def read_structure(path: str | os.PathLike) -> Crystal:
    """The structure in a file: CIF, POSCAR/CONTCAR, or any other format pymatgen or ASE reads
    (pymatgen JSON, XSF, extended XYZ...). Raises :class:`StructureReadError` with the reason."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise StructureReadError(f"{p}: no such file")
    if p.suffix.lower() in (".cif", ".mcif"):
        try:
            return from_cif(p.read_text(encoding="utf-8", errors="replace"))
        except CIFParseError as exc:
            raise CIFParseError(f"{p}: {exc}") from None
    errors = []
    vasp = p.suffix.lower() in (".vasp", ".poscar") or any(
        p.name.upper().startswith(n) for n in VASP_NAMES
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if vasp:
                structure = Poscar.from_file(str(p), check_for_potcar=False).structure
            else:
                structure = Structure.from_file(str(p))
        return from_pymatgen(structure)
    except Exception as exc:  # pymatgen raises many exception types for unreadable files
        errors.append(f"pymatgen: {type(exc).__name__}: {exc}")
    try:
        return from_ase(ase.io.read(str(p)))
    except Exception as exc:  # ASE too
        errors.append(f"ASE: {type(exc).__name__}: {exc}")
    raise StructureReadError(
        f"{p}: not a structure file pymatgen or ASE can read ({'; '.join(errors)})"
    )


def to_crystal(x: Any) -> Crystal:
    """A :class:`Crystal` from a Crystal, pymatgen ``Structure``, ASE ``Atoms``, structure dict
    or file path."""
    if isinstance(x, Crystal):
        return x
    if isinstance(x, (str, os.PathLike)):
        return read_structure(x)
    if isinstance(x, dict):
        if "sites" in x and "lattice" in x:  # Structure.as_dict()
            return from_pymatgen(Structure.from_dict(x))
        if {"lattice", "frac_coords", "atomic_numbers"} <= set(x):
            return Crystal(
                np.asarray(x["frac_coords"], np.float64).reshape(-1, 3),
                np.asarray(x["atomic_numbers"], np.int64),
                np.asarray(x["lattice"], np.float64),
            )
        raise StructureReadError(
            "a structure dict needs Structure.as_dict()'s keys or lattice, frac_coords "
            "and atomic_numbers"
        )
    if isinstance(x, IStructure):
        return from_pymatgen(x)
    if isinstance(x, Atoms):
        return from_ase(x)
    raise StructureReadError(
        f"cannot read a structure from a {type(x).__name__}: give a Crystal, a pymatgen "
        "Structure, ASE Atoms, a structure dict or a CIF/POSCAR path"
    )
