"""Formation energies from total energies and elemental references, and MP2020 anion shifts.

ΔH_f per atom = [E(compound) − Σ_i n_i μ_i] / N, with μ_i the energy per atom of element i in
its reference state computed with the *same* settings (absolute DFT energies of different
codes or settings are not comparable; formation energies are).

Plain PBE over-binds the O₂ molecule and misplaces other anion references, so its oxide,
halide and chalcogenide formation energies are systematically less negative than the
Materials Project's, whose values include the fitted MP2020 anion corrections (oxide
−0.687 eV per O atom, Cl −0.614 eV per Cl atom, ...). :func:`anion_correction_ev` returns
those corrections, read from pymatgen's own MP2020 configuration, so a plain-PBE result can
be put beside an MP value. The Hubbard-U (GGA/GGA+U mixing) corrections are not applied: the
calculations here use no U.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from pymatgen.entries.compatibility import CompatibilityError, MaterialsProject2020Compatibility
from pymatgen.entries.computed_entries import ComputedStructureEntry

log = logging.getLogger(__name__)


class MissingReference(KeyError):
    """An element of the compound has no reference energy (or its reference failed)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing reference"


def element_counts(symbols: Sequence[str]) -> dict[str, int]:
    return dict(Counter(symbols))


def formation_energy_per_atom(
    energy_ev: float, symbols: Sequence[str], mu: Mapping[str, float]
) -> float:
    """ΔH_f in eV/atom from the total energy of a cell with atoms ``symbols``.

    Args:
      energy_ev: total energy of the cell (eV).
      symbols: chemical symbol of every atom in the cell.
      mu: reference energy per atom (eV/atom) of each element.
    """
    counts = element_counts(symbols)
    missing = sorted(
        el for el in counts if el not in mu or mu[el] is None or not np.isfinite(mu[el])
    )
    if missing:
        raise MissingReference(f"no reference energy for {', '.join(missing)}")
    n = sum(counts.values())
    if n == 0:
        raise ValueError("a cell with no atoms has no formation energy")
    return float((energy_ev - sum(c * mu[el] for el, c in counts.items())) / n)


def anion_correction_ev(structure) -> float:
    """MP2020 anion corrections for a plain-GGA calculation (eV per cell, ≤ 0 mostly).

    ``structure`` is a pymatgen ``Structure`` (the oxide/peroxide/superoxide distinction
    looks at O–O distances). Compounds for which MP would use GGA+U get only their anion
    corrections here; the U-mixing corrections do not apply to a calculation without U.
    """
    compat = MaterialsProject2020Compatibility(check_potcar=False)
    params = {"run_type": "GGA", "hubbards": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            adjustments = compat.get_adjustments(
                ComputedStructureEntry(structure, 0.0, parameters=params)
            )
        except CompatibilityError:
            # MP would have used +U here: declare MP's U values only to pass its check, then
            # keep the anion terms and drop the U-mixing terms.
            anion = sorted(structure.composition.elements, key=lambda e: e.X)[-1].symbol
            hubbards = {el.symbol: compat.u_settings.get(anion, {}).get(el.symbol, 0.0)
                        for el in structure.composition.elements}
            params = {"run_type": "GGA+U", "hubbards": hubbards, "is_hubbard": True}
            adjustments = compat.get_adjustments(
                ComputedStructureEntry(structure, 0.0, parameters=params)
            )
    return float(sum(a.value for a in adjustments if "anion" in a.name))


def corrected_formation_energy(e_form: float, structure) -> tuple[float, float]:
    """(ΔH_f + MP2020 anion corrections per atom, the correction per atom)."""
    per_atom = anion_correction_ev(structure) / len(structure)
    return e_form + per_atom, per_atom
