"""Clean reference prototypes of the perovskite, pyrochlore and spinel families.

The family match (:mod:`genms.evaluate.family`) is ``fit_anonymous`` against a short list of
structures a crystallographer would accept as members of the family. The list is built by
``scripts/build_family_prototypes.py`` and shipped as ``genms/assets/family_prototypes.json.gz``.

Rule. For each family, ideal prototypes are written here from their Wyckoff positions
(:func:`ideal_prototypes`), each with the space groups it stands for. A data-folder entry is a
reference of the family when

1. its anonymous formula is the prototype's (ABX3, A2B2X7, AB2X4),
2. its space group (the dataset's, else spglib at symprec 0.1) is one of the prototype's,
3. ``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10).fit_anonymous`` matches it to that ideal
   prototype, and
4. its cations have the family's coordination by the anion (:data:`COORDINATION`; a cation's
   anion neighbours are those within 1.35 times its shortest cation-anion distance): perovskite
   B 6 and A 8-12, pyrochlore B 6 and A 8, spinel A 4 and B 6 (normal) or A 6 and B 4-6
   (inverse).

Conditions 3 and 4 remove what a space group alone admits: molecular crystals and intermetallics
(3), and nitrates, carbonates, borates and halates (4: their small cation has 3 anion neighbours;
the calcite type is R-3c ABX3 and passes 3 at these tolerances), and the LiNbO3 type (A 6).
The same coordination check follows every ``fit_anonymous`` success in the family match.

Candidates are the rows of mp_20, mp_cgcnn, mpts_52 and perov_5 (the shipped known-compound
table, which records their space groups). The shipped file lists every selected entry with its id
and keeps, per prototype, up to ``max_representatives`` entries that ``fit_anonymous`` tells
apart; these and the ideal structures are the references. The rule is conservative: strongly
tilted members whose A site falls to 7 anion neighbours (some Pnma rare-earth perovskites) and
some Bi3+ lone-pair ones are left out.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Lattice, Structure

from genms.crystal.convert import from_cif
from genms.evaluate.family import FamilyReferences
from genms.paths import ASSETS_DIR

SHIPPED_PATH = ASSETS_DIR / "family_prototypes.json.gz"
FORMAT = "genms family prototypes v1"
O1 = 0.125  # origin choice 2 -> pymatgen's Fd-3m setting (origin choice 1)


#: Allowed anion coordination numbers per cation role. Roles by anonymous count: the anion X is
#: the most abundant species; for ABX3 and A2B2X7 both cation assignments are tried.
COORDINATION: dict[str, dict[str, tuple[int, int]]] = {
    "perovskite": {"A": (8, 12), "B": (6, 6)},
    "pyrochlore": {"A": (8, 8), "B": (6, 6)},
    "spinel": {"A": (4, 4), "B": (6, 6)},
    "inverse spinel": {"A": (6, 6), "B": (4, 6)},
}
CN_FACTOR = 1.35


def _coordination(structure: Structure, anion: object) -> dict[object, list[int]]:
    """Anion coordination number of every cation site, by species."""
    out: dict[object, list[int]] = {}
    for site, neighbours in zip(structure, structure.get_all_neighbors(5.5), strict=True):
        if site.specie == anion:
            continue
        d = sorted(n.nn_distance for n in neighbours if n.specie == anion)
        cn = sum(x <= CN_FACTOR * d[0] for x in d) if d else 0
        out.setdefault(site.specie, []).append(cn)
    return out


def coordination_ok(structure: Structure, rule: str) -> bool:
    """Do the cations of ``structure`` (a ternary) have the coordination of :data:`COORDINATION`?"""
    allowed = COORDINATION[rule]
    comp = structure.composition
    if len(comp) != 3:
        return False
    species = sorted(comp, key=lambda el: comp[el])
    anion, cations = species[-1], species[:2]
    try:
        cns = _coordination(structure, anion)
    except Exception:  # a degenerate cell: no answer is a non-match
        return False
    orders = [cations, cations[::-1]] if comp[cations[0]] == comp[cations[1]] else [cations]

    def inside(values: list[int], bounds: tuple[int, int]) -> bool:
        return bool(values) and all(bounds[0] <= v <= bounds[1] for v in values)

    return any(inside(cns.get(a, []), allowed["A"]) and inside(cns.get(b, []), allowed["B"])
               for a, b in orders)


@dataclass(frozen=True)
class Ideal:
    family: str
    name: str
    structure: Structure
    space_groups: tuple[int, ...]
    coordination: str = ""  # key of COORDINATION; default: the family


def _inverse_spinel(normal: Structure) -> Structure:
    """The ordered inverse spinel in the normal spinel's 14-atom primitive cell."""
    s = normal.copy()
    octa = [i for i, site in enumerate(s) if site.specie.symbol == "Al"]
    tetra = [i for i, site in enumerate(s) if site.specie.symbol == "Mg"]
    for i in tetra:
        s.replace(i, "Al")
    for i in octa[: len(tetra)]:
        s.replace(i, "Mg")
    return s


def ideal_prototypes() -> list[Ideal]:
    """The ideal prototypes of every family, with the space groups each stands for."""
    sg = Structure.from_spacegroup
    cubic = sg("Pm-3m", Lattice.cubic(3.9), ["Sr", "Ti", "O"],
               [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0]])
    pnma = sg("Pnma", Lattice.orthorhombic(5.35, 7.67, 5.61), ["Gd", "Fe", "O", "O"],
              [[0.0594, 0.25, 0.9847], [0, 0, 0.5], [0.4699, 0.25, 0.0956],
               [0.3028, 0.0536, 0.6927]])
    r3c = sg("R-3c", Lattice.hexagonal(5.36, 13.11), ["La", "Al", "O"],
             [[0, 0, 0.25], [0, 0, 0], [0.54, 0, 0.25]])
    i4mcm = sg("I4/mcm", Lattice.tetragonal(5.51, 7.80), ["Sr", "Ti", "O", "O"],
               [[0, 0.5, 0.25], [0, 0, 0], [0, 0, 0.25], [0.21, 0.71, 0]])
    pyro = sg("Fd-3m", Lattice.cubic(10.4), ["Gd", "Ti", "O", "O"],
              [[0.5 + O1] * 3, [O1] * 3, [0.33 + O1, 0.25, 0.25], [0.5, 0.5, 0.5]])
    spinel = sg("Fd-3m", Lattice.cubic(8.08), ["Mg", "Al", "O"],
                [[0, 0, 0], [0.625] * 3, [0.387] * 3]).get_primitive_structure()
    return [
        # a0a0a0 and its polar / small distortions in a 5-atom cell (BaTiO3 P4mm, R3m, Amm2)
        Ideal("perovskite", "cubic Pm-3m SrTiO3", cubic.get_primitive_structure(),
              (221, 99, 160, 38, 123)),
        Ideal("perovskite", "GdFeO3-type Pnma (a-b+a-)", pnma.get_primitive_structure(), (62,)),
        Ideal("perovskite", "LaAlO3-type R-3c (a-a-a-)", r3c.get_primitive_structure(),
              (167, 161)),
        Ideal("perovskite", "SrTiO3-type I4/mcm (a0a0c-)", i4mcm.get_primitive_structure(),
              (140,)),
        Ideal("pyrochlore", "Fd-3m A2B2O6O'", pyro.get_primitive_structure(), (227,)),
        Ideal("spinel", "normal Fd-3m AB2O4", spinel, (227,)),
        Ideal("spinel", "inverse B(AB)O4, ordered", _inverse_spinel(spinel),
              (74, 91, 95, 141, 227), "inverse spinel"),
    ]


def load_prototypes(path: str | Path = SHIPPED_PATH) -> dict:
    with gzip.open(Path(path), "rt") as fh:
        data = json.load(fh)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT!r} file")
    return data


def prototype_references(family: str, path: str | Path = SHIPPED_PATH) -> FamilyReferences | None:
    """The family's references (ideal prototypes + shipped representatives); None if unknown."""
    data = load_prototypes(path)
    fam = data["families"].get(family)
    if fam is None:
        return None
    ideals = [p for p in ideal_prototypes() if p.family == family]
    structures = [p.structure for p in ideals] + [from_cif(e["cif"]) for e in fam["references"]]
    names = [f"ideal:{p.name}" for p in ideals] + [e["id"] for e in fam["references"]]
    return FamilyReferences(structures, names, check=FamilyCoordination(family))


@dataclass(frozen=True)
class FamilyCoordination:
    """The coordination condition of a family (any of its prototypes' rules)."""

    family: str

    def __call__(self, structure: Structure) -> bool:
        rules = dict.fromkeys(p.coordination or p.family for p in ideal_prototypes()
                              if p.family == self.family)
        return any(coordination_ok(structure, r) for r in rules)
