"""Structure pictures: periodic images of atoms on faces, bonds, distinct Jmol colours, one file
each."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ase.data import atomic_numbers
from ase.data.colors import jmol_colors
from PIL import Image
from pymatgen.core import Lattice, Structure

from genms.search.pictures import (
    MIN_COLOUR_DELTA,
    _lab,
    bonded_outside,
    bonds,
    cell_atoms,
    draw_crystal,
    element_colours,
)


def rocksalt() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_atoms_on_faces_edges_and_corners_get_their_images():
    cart, numbers, frac = cell_atoms(rocksalt())
    na = frac[numbers == 11]
    cl = frac[numbers == 17]
    # Na: 8 corners + 6 face centres; Cl: 12 edge centres + 1 body centre
    assert len(na) == 14 and len(cl) == 13
    assert np.all((frac > -1e-6) & (frac < 1 + 1e-6))
    # an atom at 0.999 counts as on the face at 0
    s = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0.999, 0.0, 0.001], [0.5, 0.5, 0.5]])
    _, numbers, _ = cell_atoms(s)
    assert (numbers == 55).sum() == 8


def test_bonds_join_cations_to_anions_only():
    cart, numbers, _ = cell_atoms(rocksalt())
    pairs = bonds(cart, numbers)
    assert pairs
    for i, j in pairs:
        assert {int(numbers[i]), int(numbers[j])} == {11, 17}
        assert np.linalg.norm(cart[i] - cart[j]) == pytest.approx(5.64 / 2, abs=1e-6)
    # the body-centre Cl has its six Na neighbours inside the cell
    centre = int(np.argmin(np.linalg.norm(cart - 5.64 / 2, axis=1)))
    assert sum(centre in p for p in pairs) == 6
    # an intermetallic bonds metal to metal
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    cart, numbers, _ = cell_atoms(cu)
    assert bonds(cart, numbers)


@pytest.mark.parametrize(
    "elements",
    [
        ("Ba", "Cl", "Na"),
        ("Cs", "Mn", "Cl"),
        ("K", "Rb", "Cs", "I"),
        ("Fe", "Co", "Ni", "O"),
        ("La", "Ce", "Pr", "Nd", "O"),
        ("Y", "Zr", "Nb", "Mo", "O"),
    ],
)
def test_no_two_elements_share_a_colour(elements):
    colours = element_colours([atomic_numbers[e] for e in elements])
    for a, b in itertools.combinations(elements, 2):
        delta = np.linalg.norm(_lab(colours[atomic_numbers[a]]) - _lab(colours[atomic_numbers[b]]))
        assert delta >= MIN_COLOUR_DELTA - 1e-9, (a, b, delta)
    # the most electronegative element keeps its Jmol colour
    anion = max(elements, key=lambda e: {"O": 3.44, "Cl": 3.16, "I": 2.66}.get(e, 0))
    assert np.allclose(colours[atomic_numbers[anion]], jmol_colors[atomic_numbers[anion]])


def test_every_picture_has_the_same_size(tmp_path):
    small = Structure(
        Lattice.cubic(3.9),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    long = Structure(
        Lattice.from_parameters(3, 4, 14, 90, 100, 90),
        ["Ba", "Cl", "Na"],
        [[0, 0, 0], [0.5, 0.5, 0.3], [0.2, 0.1, 0.7]],
    )
    sizes = {
        Image.open(draw_crystal(s, tmp_path / f"{i}.png", f"{i}")).size
        for i, s in enumerate((small, long))
    }
    assert len(sizes) == 1


def test_anions_outside_the_cell_complete_the_cations_coordination():
    cscl = Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cart, numbers = bonded_outside(cscl)
    assert len(numbers) == 26 and set(numbers.tolist()) == {
        17
    }  # the body centres around the 8 corner Cs
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    assert len(bonded_outside(cu)[1]) == 0  # nothing is added around a metal
