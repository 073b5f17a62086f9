"""Template substitution: a known member of the family with the requested elements on its sites.

For a formula, the templates whose reduced atom ratio matches (e.g. ABX3 for CsPbCl3) are
candidates; ``n`` of them are taken, those sharing the most elements with the request first
(ties in an order drawn from the key), distinct while there are enough. Elements are assigned to
the template's sites group by group of equal amount, in order of electronegativity (the most
electropositive element of the request takes the template's most electropositive site: Cs on
Sr's site of SrTiO3, Pb on Ti's, Cl on O's). The volume is rescaled with pymatgen's
reference-scaled ionic-radius predictor (:class:`RLSVolumePredictor`); where that fails or
disagrees wildly with bond-length scaling (the template's shortest bond stretched to the new
pair's summed covalent radii), bond-length scaling is used.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
from ase.data import covalent_radii
from pymatgen.analysis.structure_prediction.volume_predictor import RLSVolumePredictor
from pymatgen.core import Element

from genms.benchmarks.baselines.prototypes import Prototype, PrototypeConfig, family_prototypes
from genms.benchmarks.baselines.rng import generator_from_key
from genms.crystal.composition import parse_formula
from genms.crystal.convert import to_pymatgen
from genms.crystal.structure import Crystal

log = logging.getLogger(__name__)


def _reduced_counts(counts: dict[int, int]) -> dict[int, int]:
    g = math.gcd(*counts.values())
    return {z: c // g for z, c in counts.items()}


def _electronegativity(z: int) -> float:
    x = Element.from_Z(int(z)).X
    return float(x) if x == x else 4.5  # noble gases have no Pauling value: most electronegative


def element_mapping(template: dict[int, int], target: dict[int, int]) -> dict[int, int] | None:
    """Template element -> target element, or None when the reduced ratios differ."""
    t_red, r_red = _reduced_counts(template), _reduced_counts(target)
    if sorted(t_red.values()) != sorted(r_red.values()):
        return None
    mapping: dict[int, int] = {}
    for amount in sorted(set(t_red.values())):
        src = sorted(
            (z for z, c in t_red.items() if c == amount), key=lambda z: (_electronegativity(z), z)
        )
        dst = sorted(
            (z for z, c in r_red.items() if c == amount), key=lambda z: (_electronegativity(z), z)
        )
        mapping.update(zip(src, dst, strict=False))
    return mapping


def _target_counts(formula: str) -> dict[int, int]:
    comp = parse_formula(formula)
    amounts = comp.get_el_amt_dict()
    if any(abs(v - round(v)) > 1e-6 for v in amounts.values()):
        raise ValueError(f"{formula}: fractional amounts cannot be placed on a template's sites")

    return {Element(el).Z: int(round(v)) for el, v in amounts.items()}


def _bond_scaled_volume(new: Crystal, template: Crystal) -> float:
    """Volume keeping the template's shortest bond at the new pair's summed covalent radii."""
    structure = to_pymatgen(template)
    d = structure.distance_matrix + np.eye(len(structure)) * 1e9
    i, j = np.unravel_index(np.argmin(d), d.shape)
    old_numbers, new_numbers = template.atomic_numbers, new.atomic_numbers
    ratio = ((covalent_radii[int(new_numbers[i])] + covalent_radii[int(new_numbers[j])])
             / (covalent_radii[int(old_numbers[i])] + covalent_radii[int(old_numbers[j])]))
    return abs(float(np.linalg.det(template.lattice))) * ratio**3


def _scaled_volume(new: Crystal, template: Crystal) -> float:
    """Ionic-radius volume (pymatgen RLS) when plausible, else bond-length scaling."""
    fallback = _bond_scaled_volume(new, template)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = float(RLSVolumePredictor().predict(to_pymatgen(new), to_pymatgen(template)))
    except Exception:  # no ionic radii for a species (unusual oxidation states)
        return fallback
    return v if 0.6 < v / fallback < 1.6 else fallback


def substitute(template: Prototype, formula: str) -> Crystal | None:
    """The template with ``formula``'s elements on its sites, volume rescaled (None: ratio
    differs)."""
    numbers = np.asarray(template.crystal.atomic_numbers)
    mapping = element_mapping(dict(Counter(int(z) for z in numbers)), _target_counts(formula))
    if mapping is None:
        return None
    new_numbers = np.array([mapping[int(z)] for z in numbers], dtype=numbers.dtype)
    unscaled = Crystal(template.crystal.frac_coords, new_numbers, template.crystal.lattice)
    v0 = abs(float(np.linalg.det(template.crystal.lattice)))
    scale = (_scaled_volume(unscaled, template.crystal) / v0) ** (1.0 / 3.0)
    props = {"template": template.material_id, "template_formula": template.formula,
             "template_spacegroup": template.spacegroup, "baseline": "template"}
    return Crystal(
        template.crystal.frac_coords,
        new_numbers,
        np.asarray(template.crystal.lattice) * scale,
        props,
    )


class TemplateSubstitutionSampler:
    """StructureSampler: known family members with substituted elements."""

    name = "template"

    def __init__(self, prototypes: Sequence[Prototype]) -> None:
        if not prototypes:
            raise ValueError("TemplateSubstitutionSampler needs at least one prototype")
        self.prototypes = list(prototypes)

    @classmethod
    def for_family(
        cls, family: str, cfg: PrototypeConfig | None = None
    ) -> TemplateSubstitutionSampler:
        return cls(family_prototypes(family, cfg or PrototypeConfig()))

    def _options(self, formula: str) -> list[Prototype]:
        target = _target_counts(formula)
        return [
            p
            for p in self.prototypes
            if element_mapping(dict(Counter(int(z) for z in p.crystal.atomic_numbers)), target)
            is not None
        ]

    def sample(self, formulae: Sequence[str], n_per_formula: int, key: object,
               formula_units: Sequence[int] | None = None) -> list[list[Crystal]]:
        """``n_per_formula`` substituted templates per formula (empty when no template fits).

        ``formula_units`` prefers templates holding that many formula units (others are used
        when none does).
        """
        rng = generator_from_key(key)
        out: list[list[Crystal]] = []
        for i, formula in enumerate(formulae):
            try:
                options = self._options(formula)
            except ValueError as exc:
                log.warning("template baseline: %s", exc)
                out.append([])
                continue
            if formula_units is not None:
                z_target = sum(_reduced_counts(_target_counts(formula)).values())  # atoms per unit
                preferred = [p for p in options
                             if len(p.crystal.atomic_numbers) == formula_units[i] * z_target]
                options = preferred or options
            if not options:
                log.warning("template baseline: no template with the atom ratio of %s", formula)
                out.append([])
                continue
            # Closest chemistry first (most elements shared with the request), ties in random order.
            wanted = set(_target_counts(formula))
            order = rng.permutation(len(options))
            ranked = sorted(
                order,
                key=lambda j: -len(wanted & {int(z) for z in options[j].crystal.atomic_numbers}),
            )
            picks = [ranked[k % len(ranked)] for k in range(n_per_formula)]
            out.append(
                [c for c in (substitute(options[j], formula) for j in picks) if c is not None]
            )
        return out
