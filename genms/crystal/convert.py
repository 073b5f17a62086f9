"""Conversions between :class:`Crystal` and pymatgen ``Structure``, CIF text and ASE ``Atoms``."""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifParser, CifWriter

from genms.crystal.structure import Crystal


class CIFParseError(ValueError):
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
