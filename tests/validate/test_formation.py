"""Formation-energy arithmetic and the MP2020 anion corrections."""

from __future__ import annotations

import pytest
from pymatgen.analysis.compatibility import MP2020_COMPAT_CONFIG
from pymatgen.core import Lattice, Structure

from genms.validate.formation import (
    MissingReference,
    anion_correction_ev,
    corrected_formation_energy,
    formation_energy_per_atom,
)


def test_formation_energy_by_hand():
    mu = {"Sr": -1.5, "Ti": -7.5, "O": -4.5}
    e_cell = -40.0  # SrTiO3, 5 atoms
    expected = (-40.0 - (-1.5 - 7.5 - 3 * 4.5)) / 5
    assert formation_energy_per_atom(e_cell, ["Sr", "Ti", "O", "O", "O"], mu) == pytest.approx(
        expected
    )


def test_elemental_cell_at_reference_energy_is_zero():
    assert formation_energy_per_atom(-8.0, ["Cu"] * 4, {"Cu": -2.0}) == pytest.approx(0.0)


def test_missing_reference_names_the_element():
    with pytest.raises(MissingReference, match="O"):
        formation_energy_per_atom(-10.0, ["Mg", "O"], {"Mg": -1.0})
    with pytest.raises(MissingReference, match="O"):
        formation_energy_per_atom(-10.0, ["Mg", "O"], {"Mg": -1.0, "O": None})


def _perovskite() -> Structure:
    return Structure(Lattice.cubic(3.905), ["Sr", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])


def test_oxide_correction_is_mp2020_per_oxygen():
    oxide = MP2020_COMPAT_CONFIG["Corrections"]["CompositionCorrections"]["oxide"]
    assert anion_correction_ev(_perovskite()) == pytest.approx(3 * oxide)
    e, per_atom = corrected_formation_energy(-3.1, _perovskite())
    assert per_atom == pytest.approx(3 * oxide / 5) and e == pytest.approx(-3.1 + 3 * oxide / 5)


def test_chloride_and_u_oxide_keep_only_anion_terms():
    comp = MP2020_COMPAT_CONFIG["Corrections"]["CompositionCorrections"]
    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]])
    assert anion_correction_ev(nacl) == pytest.approx(comp["Cl"])
    # FeO: MP would use GGA+U; only the oxide anion term applies to a calculation without U.
    feo = Structure(Lattice.cubic(4.3), ["Fe", "O"], [[0, 0, 0], [.5, .5, .5]])
    assert anion_correction_ev(feo) == pytest.approx(comp["oxide"])


def test_intermetallic_has_no_correction():
    cuau = Structure(Lattice.cubic(3.8), ["Cu", "Au"], [[0, 0, 0], [.5, .5, .5]])
    assert anion_correction_ev(cuau) == 0.0
