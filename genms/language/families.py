"""The crystal-family knowledge base: ratios, space groups, site roles and typical ions.

Each :class:`Family` has one or more :class:`Prototype` s (e.g. garnet A3B2C3O12 and A3B5O12),
each a list of :class:`Site` s with a multiplicity, a role (``cation``, ``anion`` or ``metal``
for intermetallics) and the ions typically found there, written as species (``"Sr2+"``,
``"O2-"``) or, for metallic sites, as element symbols. The offline proposer fills these sites
by data-driven substitution starting from the typical ions; retrieval uses the ratios and
space groups to find known members of a family in the datasets; R_hi checks ratio compliance
against :attr:`Family.ratios`.

Space groups are the common ones of each structure type (the aristotype and its frequent
distortions); they select examples, they never reject a formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genms.crystal.composition import normalise_ratio
from genms.language.size import SizeRule


@dataclass(frozen=True)
class Site:
    label: str
    count: int
    role: str  # "cation" | "anion" | "metal"
    ions: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Prototype:
    name: str
    sites: tuple[Site, ...]
    space_groups: tuple[int, ...]
    examples: tuple[str, ...] = ()
    size_rules: tuple[SizeRule, ...] = ()

    @property
    def ratio(self) -> tuple[int, ...]:
        return tuple(s.count for s in self.sites)


@dataclass(frozen=True)
class Family:
    name: str
    aliases: tuple[str, ...]
    description: str
    prototypes: tuple[Prototype, ...]
    wikipedia: str = ""
    bonding: str = "ionic"  # "ionic" | "intermetallic"

    @property
    def ratio(self) -> tuple[int, ...]:
        """The main prototype's atom ratio, in site order (e.g. (1, 1, 3) for ABX3)."""
        return self.prototypes[0].ratio

    @property
    def ratios(self) -> tuple[tuple[int, ...], ...]:
        return tuple(p.ratio for p in self.prototypes)

    @property
    def space_groups(self) -> tuple[int, ...]:
        seen: dict[int, None] = {}
        for p in self.prototypes:
            seen.update(dict.fromkeys(p.space_groups))
        return tuple(seen)

    @property
    def examples(self) -> tuple[str, ...]:
        return tuple(e for p in self.prototypes for e in p.examples)

    @property
    def has_anion_site(self) -> bool:
        return all(any(s.role == "anion" for s in p.sites) for p in self.prototypes)

    def ratio_text(self) -> str:
        return " or ".join(":".join(map(str, r)) for r in self.ratios)

    def summary(self) -> str:
        protos = "; ".join(
            f"{p.name} (ratio {':'.join(map(str, p.ratio))}, space groups "
            f"{', '.join(map(str, p.space_groups))})"
            for p in self.prototypes
        )
        return (f"{self.name}: {self.description} Prototypes: {protos}. Examples: "
                f"{', '.join(self.examples)}.")


def _s(label: str, count: int, role: str, ions: str, note: str = "") -> Site:
    return Site(label, count, role, tuple(ions.split()), note)


def _tol(b: str = "B", lo: float = 0.78, hi: float = 1.07, cn_a: str = "XII") -> SizeRule:
    return SizeRule("tolerance", ("A", b, "X"), lo, hi, (cn_a, "VI", "VI"))


def _range(sites: str, lo: float, hi: float, cn: str) -> SizeRule:
    labels = tuple(sites.split())
    return SizeRule("range", labels, lo, hi, (cn,) * len(labels))


_HALIDES = "F- Cl- Br- I-"
_LN3 = "La3+ Ce3+ Pr3+ Nd3+ Sm3+ Eu3+ Gd3+ Tb3+ Dy3+ Ho3+ Er3+ Tm3+ Yb3+ Lu3+ Y3+"

FAMILIES: dict[str, Family] = {}


def _add(family: Family) -> None:
    FAMILIES[family.name] = family


_add(
    Family(
        "perovskite",
        ("perovskite", "abx3"),
        "ABX3 with corner-sharing BX6 octahedra and a large A cation in the 12-fold cavity; oxides "
        "(A2+B4+, A3+B3+, A1+B5+), halides (A1+B2+) and nitrides (A3+B6+).",
        (
            Prototype(
                "ABX3",
                (
                    _s(
                        "A",
                        1,
                        "cation",
                        "Ca2+ Sr2+ Ba2+ Pb2+ La3+ Nd3+ Pr3+ Sm3+ Y3+ Bi3+ Na+ K+ Rb+ Cs+ Tl+ Ag+",
                        "12-coordinated",
                    ),
                    _s(
                        "B",
                        1,
                        "cation",
                        "Ti4+ Zr4+ Hf4+ Sn4+ Mn4+ Ru4+ Ir4+ Nb5+ Ta5+ Sb5+ Fe3+ Mn3+ Co3+ Ni3+ "
                        "Cr3+ V3+ Al3+ Ga3+ Sc3+ In3+ "
                        "Pb2+ Sn2+ Ge2+ Mg2+ Zn2+ Cd2+ Ca2+ Mn2+ Fe2+ Co2+ Ni2+ Cu2+ W6+ Mo6+",
                        "octahedral",
                    ),
                    _s("X", 3, "anion", "O2- " + _HALIDES + " N3-"),
                ),
                (221, 62, 167, 140, 99, 127, 74, 63, 160, 38),
                ("SrTiO3", "BaTiO3", "CaTiO3", "LaAlO3", "KMgF3", "CsPbCl3", "CsPbI3", "LaWN3"),
                (_tol(),),
            ),
        ),
        "Perovskite_(structure)",
    )
)

_add(
    Family(
        "double perovskite",
        ("double perovskite", "elpasolite", "a2bb'x6", "ordered perovskite"),
        "A2BB'X6 rock-salt-ordered double perovskite (elpasolite for halides): two octahedral "
        "cations of different charge alternate on the B sites.",
        (
            Prototype(
                "A2BB'X6",
                (
                    _s(
                        "A",
                        2,
                        "cation",
                        "Ba2+ Sr2+ Ca2+ La3+ Pb2+ Cs+ Rb+ K+ Na+",
                        "12-coordinated",
                    ),
                    _s(
                        "B",
                        1,
                        "cation",
                        "Mg2+ Ca2+ Mn2+ Fe2+ Co2+ Ni2+ Cu2+ Zn2+ Fe3+ Cr3+ Sc3+ In3+ Na+ Li+ Ag+ "
                        "Cu+ K+",
                        "octahedral",
                    ),
                    _s(
                        "B'",
                        1,
                        "cation",
                        "Mo6+ W6+ Te6+ Re5+ Nb5+ Ta5+ Sb5+ Ti4+ Zr4+ Sn4+ Ir4+ Bi3+ Sb3+ In3+ Sc3+ "
                        "Y3+ Al3+ Ga3+ Fe3+ Tl3+ Ln3+",
                        "octahedral",
                    ),
                    _s("X", 6, "anion", "O2- " + _HALIDES),
                ),
                (225, 14, 148, 87, 12, 2),
                ("Sr2FeMoO6", "Ba2MgWO6", "Ba2CaWO6", "Cs2AgBiBr6", "Cs2NaBiCl6", "K2NaAlF6"),
                (_tol("B|B'"),),
            ),
        ),
        "Double_perovskite",
    )
)

_add(
    Family(
        "pyrochlore",
        ("pyrochlore", "a2b2o7", "a2b2x7"),
        "A2B2X6X' (A2B2O7): a cubic Fd-3m network of corner-sharing BO6 octahedra interpenetrated "
        "by A2O' chains; usually A3+/B4+ or A2+/B5+.",
        (
            Prototype(
                "A2B2X7",
                (
                    _s(
                        "A",
                        2,
                        "cation",
                        _LN3 + " Bi3+ Sc3+ In3+ Ca2+ Cd2+ Pb2+ Sr2+ Hg2+",
                        "8-coordinated",
                    ),
                    _s(
                        "B",
                        2,
                        "cation",
                        "Ti4+ Zr4+ Hf4+ Sn4+ Ge4+ Ru4+ Ir4+ Mo4+ Mn4+ Pt4+ Rh4+ Os4+ Pb4+ Tc4+ "
                        "Nb5+ Ta5+ Sb5+ Re5+ V5+",
                        "octahedral",
                    ),
                    _s("X", 7, "anion", "O2- F-"),
                ),
                (227,),
                ("Gd2Ti2O7", "Dy2Ti2O7", "La2Zr2O7", "Y2Sn2O7", "Bi2Ru2O7", "Cd2Nb2O7", "Nd2Ir2O7"),
                (SizeRule("ratio", ("A", "B"), 1.36, 1.95, ("VIII", "VI")),),
            ),
        ),
        "Pyrochlore",
    )
)

_add(
    Family(
        "spinel",
        ("spinel", "inverse spinel", "normal spinel", "ab2o4", "ab2x4"),
        "AB2X4 with A in tetrahedral and B in octahedral sites of a cubic close-packed anion "
        "lattice (normal, inverse and tetragonally distorted variants); oxides and chalcogenides.",
        (
            Prototype(
                "AB2X4",
                (
                    _s(
                        "A",
                        1,
                        "cation",
                        "Mg2+ Zn2+ Fe2+ Co2+ Ni2+ Mn2+ Cu2+ Cd2+ Ca2+ Hg2+ Ge4+ Ti4+ Sn4+ Si4+ Li+",
                        "tetrahedral",
                    ),
                    _s(
                        "B",
                        2,
                        "cation",
                        "Al3+ Fe3+ Cr3+ Co3+ Mn3+ Ga3+ V3+ Rh3+ In3+ Ti3+ Ni3+ Sc3+ Mg2+ Zn2+ Co2+ "
                        "Ni2+ Fe2+ Mn2+ Li+",
                        "octahedral",
                    ),
                    _s("X", 4, "anion", "O2- S2- Se2- Te2- F-"),
                ),
                (227, 141, 74, 216, 70),
                (
                    "MgAl2O4",
                    "ZnFe2O4",
                    "CoFe2O4",
                    "ZnCr2O4",
                    "MgCr2O4",
                    "CdCr2S4",
                    "CuCr2Se4",
                    "Mg2TiO4",
                ),
                (_range("A", 0.0, 1.0, "IV"), _range("B", 0.0, 1.0, "VI")),
            ),
        ),
        "Spinel",
    )
)

_add(
    Family(
        "rocksalt",
        ("rocksalt", "rock salt", "rock-salt", "halite", "nacl-type", "nacl type"),
        "AX with both ions octahedrally coordinated on interpenetrating fcc lattices (Fm-3m).",
        (
            Prototype(
                "AX",
                (
                    _s(
                        "A",
                        1,
                        "cation",
                        "Li+ Na+ K+ Rb+ Ag+ Mg2+ Ca2+ Sr2+ Ba2+ Mn2+ Fe2+ Co2+ Ni2+ Cd2+ Pb2+ Eu2+ "
                        "Sc3+ Y3+ La3+ Ti3+ Zr3+",
                    ),
                    _s("X", 1, "anion", "F- Cl- Br- I- O2- S2- Se2- Te2- N3- P3- As3-"),
                ),
                (225,),
                ("NaCl", "KBr", "LiF", "MgO", "CaO", "NiO", "PbS", "ScN"),
                (_range("A", 0.5, 2.0, "VI"),),
            ),
        ),
        "Rock-salt_structure",
    )
)

_add(
    Family(
        "caesium chloride",
        ("cesium chloride", "caesium chloride", "cscl-type", "cscl type", "b2 structure"),
        "AX with both ions eightfold coordinated on interpenetrating simple-cubic lattices "
        "(Pm-3m).",
        (
            Prototype(
                "AX",
                (
                    _s("A", 1, "cation", "Cs+ Tl+ Rb+ K+ Ag+ Cu+ Sr2+ Ba2+"),
                    _s("X", 1, "anion", "Cl- Br- I- F-"),
                ),
                (221,),
                ("CsCl", "CsBr", "CsI", "TlCl", "TlBr"),
                (_range("A", 1.3, 2.0, "VIII"),),
            ),
        ),
        "Caesium_chloride",
    )
)

_add(
    Family(
        "zincblende",
        ("zincblende", "zinc blende", "zinc-blende", "sphalerite"),
        "AX with tetrahedral coordination on a cubic (F-43m) diamond-like lattice; II-VI, III-V "
        "and I-VII semiconductors.",
        (
            Prototype(
                "AX",
                (
                    _s(
                        "A", 1, "cation", "Zn2+ Cd2+ Hg2+ Be2+ Mn2+ Mg2+ Ga3+ In3+ Al3+ B3+ Cu+ Ag+"
                    ),
                    _s("X", 1, "anion", "S2- Se2- Te2- O2- N3- P3- As3- Sb3- Cl- Br- I-"),
                ),
                (216,),
                ("ZnS", "GaAs", "CdTe", "InP", "AlP", "CuCl", "ZnSe", "BN"),
                (_range("A", 0.0, 1.0, "IV"),),
            ),
        ),
        "Sphalerite",
    )
)

_add(
    Family(
        "wurtzite",
        ("wurtzite",),
        "AX with tetrahedral coordination on a hexagonal (P6_3mc) lattice; the hexagonal sibling "
        "of zincblende.",
        (
            Prototype(
                "AX",
                (
                    _s("A", 1, "cation", "Zn2+ Cd2+ Be2+ Mg2+ Mn2+ Ga3+ Al3+ In3+ B3+ Ag+ Cu+"),
                    _s("X", 1, "anion", "O2- S2- Se2- Te2- N3- P3- I-"),
                ),
                (186,),
                ("ZnO", "GaN", "AlN", "InN", "CdS", "BeO", "AgI"),
                (_range("A", 0.0, 1.0, "IV"),),
            ),
        ),
        "Wurtzite_crystal_structure",
    )
)

_add(
    Family(
        "fluorite",
        ("fluorite", "caf2-type"),
        "AX2 with cubic eightfold A and tetrahedral X (Fm-3m): fluorides, chlorides and dioxides "
        "of large tetravalent cations.",
        (
            Prototype(
                "AX2",
                (
                    _s(
                        "A",
                        1,
                        "cation",
                        "Ca2+ Sr2+ Ba2+ Cd2+ Pb2+ Hg2+ Eu2+ Ce4+ Zr4+ Hf4+ Th4+ U4+ Pr4+ Tb4+ Np4+ "
                        "Pu4+",
                    ),
                    _s("X", 2, "anion", "F- Cl- O2-"),
                ),
                (225,),
                ("CaF2", "BaF2", "SrCl2", "CeO2", "ThO2", "UO2", "ZrO2"),
                (_range("A", 0.8, 1.5, "VIII"),),
            ),
        ),
        "Fluorite_structure",
    )
)

_add(Family(
    "antifluorite", ("antifluorite", "anti-fluorite", "anti fluorite"),
    "A2X: the fluorite structure with cations and anions exchanged (alkali chalcogenides).",
    (Prototype("A2X", (
        _s("A", 2, "cation", "Li+ Na+ K+ Rb+ Cu+ Ag+"),
        _s("X", 1, "anion", "O2- S2- Se2- Te2-"),
    ), (225,), ("Li2O", "Na2O", "K2O", "Li2S", "Na2S", "K2Se")),),
    "Fluorite_structure",
))

_add(
    Family(
        "rutile",
        ("rutile", "tio2-type"),
        "AX2 with edge-sharing AX6 octahedral chains (P4_2/mnm): tetravalent dioxides and divalent "
        "difluorides.",
        (
            Prototype(
                "AX2",
                (
                    _s(
                        "A",
                        1,
                        "cation",
                        "Ti4+ Sn4+ Ge4+ Ru4+ Ir4+ Os4+ Mn4+ Pb4+ V4+ Cr4+ Nb4+ Mo4+ W4+ Rh4+ Pt4+ "
                        "Te4+ Mg2+ Zn2+ Fe2+ Co2+ Ni2+ Mn2+ Pd2+",
                    ),
                    _s("X", 2, "anion", "O2- F-"),
                ),
                (136, 58),
                ("TiO2", "SnO2", "RuO2", "IrO2", "MnO2", "MgF2", "FeF2", "ZnF2"),
                (_range("A", 0.0, 0.9, "VI"),),
            ),
        ),
        "Rutile",
    )
)

_add(
    Family(
        "garnet",
        ("garnet",),
        "A3B2C3X12 (cubic Ia-3d): dodecahedral A, octahedral B and tetrahedral C; with B = C the "
        "A3B5O12 garnets such as YAG.",
        (
            Prototype(
                "A3B2C3X12",
                (
                    _s(
                        "A",
                        3,
                        "cation",
                        "Ca2+ Mg2+ Fe2+ Mn2+ Cd2+ Y3+ Gd3+ Lu3+ Tb3+ Er3+ Sm3+ Nd3+ La3+ Bi3+ Na+",
                        "dodecahedral",
                    ),
                    _s(
                        "B",
                        2,
                        "cation",
                        "Al3+ Fe3+ Cr3+ Ga3+ Sc3+ In3+ V3+ Mn3+ Ti4+ Zr4+ Sn4+ Sb5+ Te6+ Mg2+",
                        "octahedral",
                    ),
                    _s("C", 3, "cation", "Si4+ Ge4+ Al3+ Fe3+ Ga3+ V5+ Li+", "tetrahedral"),
                    _s("X", 12, "anion", "O2- F-"),
                ),
                (230,),
                ("Ca3Al2Si3O12", "Mg3Al2Si3O12", "Ca3Fe2Si3O12", "Ca3Cr2Si3O12"),
                (
                    _range("A", 0.85, 1.35, "VIII"),
                    _range("B", 0.0, 0.95, "VI"),
                    _range("C", 0.0, 0.65, "IV"),
                ),
            ),
            Prototype(
                "A3B5X12",
                (
                    _s(
                        "A",
                        3,
                        "cation",
                        "Y3+ Gd3+ Lu3+ Tb3+ Er3+ Yb3+ Sm3+ Nd3+ Dy3+ Ho3+ Tm3+ La3+ Bi3+",
                        "dodecahedral",
                    ),
                    _s("B", 5, "cation", "Al3+ Fe3+ Ga3+ Sc3+ In3+", "octahedral + tetrahedral"),
                    _s("X", 12, "anion", "O2-"),
                ),
                (230,),
                ("Y3Al5O12", "Y3Fe5O12", "Gd3Ga5O12", "Lu3Al5O12"),
                (_range("A", 0.85, 1.35, "VIII"), _range("B", 0.0, 0.95, "VI")),
            ),
        ),
        "Garnet",
    )
)

_add(
    Family(
        "olivine",
        ("olivine", "phospho-olivine", "lifepo4-type"),
        "A2BX4 (Pnma) with octahedral A and tetrahedral B (silicate olivines), and the ordered "
        "LiMPO4 phospho-olivines.",
        (
            Prototype(
                "A2BX4",
                (
                    _s("A", 2, "cation", "Mg2+ Fe2+ Mn2+ Co2+ Ni2+ Ca2+ Zn2+ Cd2+", "octahedral"),
                    _s("B", 1, "cation", "Si4+ Ge4+ Ti4+ Sn4+", "tetrahedral"),
                    _s("X", 4, "anion", "O2- S2- Se2-"),
                ),
                (62,),
                ("Mg2SiO4", "Fe2SiO4", "Mn2SiO4", "Co2SiO4", "Ca2GeO4"),
                (_range("B", 0.0, 0.6, "IV"),),
            ),
            Prototype(
                "ABCX4",
                (
                    _s("A", 1, "cation", "Li+ Na+", "octahedral M1"),
                    _s("B", 1, "cation", "Fe2+ Mn2+ Co2+ Ni2+ Mg2+ Cu2+", "octahedral M2"),
                    _s("C", 1, "cation", "P5+ As5+ V5+ Si4+", "tetrahedral"),
                    _s("X", 4, "anion", "O2-"),
                ),
                (62,),
                ("LiFePO4", "LiMnPO4", "LiCoPO4", "LiNiPO4"),
            ),
        ),
        "Olivine",
    )
)

_add(Family(
    "half-heusler", ("half-heusler", "half heusler", "halfheusler", "xyz heusler"),
    "XYZ intermetallic (F-43m): a rocksalt YZ lattice with X filling half the tetrahedral holes; "
    "18-electron compounds are semiconductors (thermoelectrics).",
    (Prototype("XYZ", (
        _s("X", 1, "metal", "Ni Co Pd Pt Fe Rh Ir Cu Au Ru"),
        _s("Y", 1, "metal", "Ti Zr Hf V Nb Ta Sc Y Mn Lu Er Gd Mg Li"),
        _s("Z", 1, "metal", "Sn Sb Bi Ge Si Pb In Ga Al As P"),
    ), (216,), ("TiNiSn", "ZrNiSn", "HfNiSn", "ZrCoSb", "NbFeSb", "ZrCoBi", "TaCoSn")),),
    "Heusler_compound",
    "intermetallic",
))

_add(Family(
    "heusler", ("heusler", "full heusler", "full-heusler", "x2yz"),
    "X2YZ intermetallic (L2_1, Fm-3m): four interpenetrating fcc lattices; many half-metallic "
    "ferromagnets and shape-memory alloys.",
    (Prototype("X2YZ", (
        _s("X", 2, "metal", "Co Ni Cu Fe Mn Rh Pd Ru Ir Pt Au Ag"),
        _s("Y", 1, "metal", "Mn Ti V Cr Fe Zr Hf Nb Ta Sc Y Co Ni"),
        _s("Z", 1, "metal", "Al Ga In Si Ge Sn Sb Pb Bi Zn Mg"),
    ), (225, 216, 139), ("Co2MnSi", "Cu2MnAl", "Ni2MnGa", "Fe2VAl", "Co2FeSi", "Co2TiSn")),),
    "Heusler_compound",
    "intermetallic",
))

_add(
    Family(
        "layered chalcogenide",
        (
            "layered chalcogenide",
            "transition metal dichalcogenide",
            "dichalcogenide",
            "tmd",
            "layered dichalcogenide",
            "van der waals chalcogenide",
            "2d chalcogenide",
        ),
        "Layered chalcogenides: MX2 transition-metal dichalcogenides (2H, 1T, 3R stacking of X-M-X "
        "sheets) "
        "and ABX2 alpha-NaFeO2-type alkali-metal chalcogenides with alkali ions between MX2 "
        "layers.",
        (
            Prototype(
                "MX2",
                (
                    _s(
                        "M",
                        1,
                        "cation",
                        "Mo4+ W4+ Nb4+ Ta4+ Ti4+ Zr4+ Hf4+ V4+ Re4+ Sn4+ Pt4+ Pd4+ Cr4+",
                        "trigonal prismatic / octahedral",
                    ),
                    _s("X", 2, "anion", "S2- Se2- Te2-"),
                ),
                (194, 164, 187, 166, 12, 11),
                ("MoS2", "WSe2", "NbSe2", "TaS2", "TiS2", "SnS2", "PtSe2", "ZrTe2"),
                (_range("M", 0.0, 0.95, "VI"),),
            ),
            Prototype(
                "ABX2",
                (
                    _s("A", 1, "cation", "Li+ Na+ K+ Rb+ Cs+ Ag+ Cu+ Tl+", "between the layers"),
                    _s(
                        "B",
                        1,
                        "cation",
                        _LN3 + " Cr3+ Sc3+ Ti3+ V3+ Fe3+ In3+ Bi3+ Ga3+",
                        "octahedral",
                    ),
                    _s("X", 2, "anion", "S2- Se2- Te2-"),
                ),
                (166, 194, 164),
                ("NaCrS2", "KCrSe2", "LiCrTe2", "KGdSe2", "NaBiS2", "AgCrSe2"),
                (SizeRule("ratio", ("A", "B"), 1.0, 3.0, ("VI", "VI")),),
            ),
        ),
        "Chalcogenide",
    )
)

_add(
    Family(
        "chalcopyrite",
        ("chalcopyrite", "cuins2-type"),
        "ABX2 tetragonal (I-42d) superstructure of zincblende with ordered I-III cations; "
        "photovoltaic absorbers.",
        (
            Prototype(
                "ABX2",
                (
                    _s("A", 1, "cation", "Cu+ Ag+ Li+"),
                    _s("B", 1, "cation", "Al3+ Ga3+ In3+ Fe3+ Tl3+ B3+"),
                    _s("X", 2, "anion", "S2- Se2- Te2-"),
                ),
                (122,),
                ("CuInSe2", "CuGaS2", "CuAlS2", "AgGaS2", "AgInSe2", "CuFeS2"),
                (_range("A B", 0.0, 1.0, "IV"),),
            ),
        ),
        "Chalcopyrite",
    )
)

_add(
    Family(
        "delafossite",
        ("delafossite",),
        "ABO2 (R-3m) with linearly coordinated monovalent A between layers of edge-sharing BO6 "
        "octahedra.",
        (
            Prototype(
                "ABX2",
                (
                    _s("A", 1, "cation", "Cu+ Ag+ Pd+ Pt+"),
                    _s(
                        "B",
                        1,
                        "cation",
                        "Al3+ Ga3+ In3+ Fe3+ Cr3+ Co3+ Rh3+ Sc3+ Y3+ La3+ B3+ Ti3+ V3+ Mn3+ Ni3+",
                    ),
                    _s("X", 2, "anion", "O2-"),
                ),
                (166, 194),
                ("CuAlO2", "CuFeO2", "CuCrO2", "AgCrO2", "PdCoO2", "PtCoO2"),
                (_range("B", 0.0, 1.05, "VI"),),
            ),
        ),
        "Delafossite",
    )
)

_add(
    Family(
        "corundum",
        ("corundum", "sesquioxide", "a2o3"),
        "A2X3 (R-3c) with two thirds of the octahedral holes of hexagonal close-packed oxygen "
        "filled.",
        (
            Prototype(
                "A2X3",
                (
                    _s("A", 2, "cation", "Al3+ Cr3+ Fe3+ V3+ Ti3+ Ga3+ Rh3+ In3+ Mn3+ Co3+ Ni3+"),
                    _s("X", 3, "anion", "O2- S2-"),
                ),
                (167,),
                ("Al2O3", "Cr2O3", "Fe2O3", "V2O3", "Ti2O3", "Rh2O3"),
                (_range("A", 0.45, 0.85, "VI"),),
            ),
        ),
        "Corundum",
    )
)

_add(
    Family(
        "ilmenite",
        ("ilmenite",),
        "ABO3 (R-3) ordered corundum derivative with alternating A and B octahedral layers.",
        (
            Prototype(
                "ABX3",
                (
                    _s("A", 1, "cation", "Fe2+ Mg2+ Mn2+ Co2+ Ni2+ Zn2+ Cd2+ Li+ Na+"),
                    _s("B", 1, "cation", "Ti4+ Ge4+ Sn4+ Mn4+ Nb5+ Ta5+ Sb5+"),
                    _s("X", 3, "anion", "O2-"),
                ),
                (148, 161),
                ("FeTiO3", "MgTiO3", "MnTiO3", "NiTiO3", "CoTiO3", "LiNbO3"),
                (_range("A B", 0.0, 1.0, "VI"),),
            ),
        ),
        "Ilmenite",
    )
)

_add(
    Family(
        "scheelite",
        ("scheelite", "wolframite", "abo4"),
        "ABX4 (I4_1/a) with isolated BO4 tetrahedra and eightfold A: tungstates, molybdates and "
        "LiREF4 fluorides.",
        (
            Prototype(
                "ABX4",
                (
                    _s(
                        "A",
                        1,
                        "cation",
                        "Ca2+ Sr2+ Ba2+ Pb2+ Cd2+ Eu2+ Y3+ Lu3+ Gd3+ Yb3+ Bi3+ La3+ Na+ K+",
                    ),
                    _s("B", 1, "cation", "W6+ Mo6+ Re7+ Cr6+ V5+ Nb5+ Ta5+ Ge4+ Li+"),
                    _s("X", 4, "anion", "O2- F-"),
                ),
                (88, 15, 13),
                ("CaWO4", "CaMoO4", "PbWO4", "BaWO4", "SrMoO4", "BiVO4", "LiYF4"),
                (_range("A", 0.95, 1.6, "VIII"), _range("B", 0.0, 0.65, "IV")),
            ),
        ),
        "Scheelite",
    )
)

_add(
    Family(
        "ruddlesden-popper",
        ("ruddlesden-popper", "ruddlesden popper", "k2nif4", "k2nif4-type", "layered perovskite"),
        "A2BX4 (n = 1 Ruddlesden-Popper, I4/mmm): single perovskite layers separated by rocksalt "
        "AX layers.",
        (
            Prototype(
                "A2BX4",
                (
                    _s(
                        "A",
                        2,
                        "cation",
                        "La3+ Nd3+ Pr3+ Sr2+ Ba2+ Ca2+ K+ Rb+ Cs+ Na+",
                        "9-coordinated",
                    ),
                    _s(
                        "B",
                        1,
                        "cation",
                        "Ni2+ Cu2+ Co2+ Mn2+ Fe2+ Mg2+ Zn2+ Cd2+ Pd2+ Ti4+ Mn4+ Ru4+ Ir4+ Rh4+ "
                        "Sn4+ Zr4+ Hf4+ Mo4+",
                        "octahedral",
                    ),
                    _s("X", 4, "anion", "O2- F- Cl-"),
                ),
                (139, 64, 138),
                ("La2CuO4", "Sr2RuO4", "K2NiF4", "Sr2TiO4", "Sr2IrO4", "La2NiO4", "Rb2MnCl4"),
                (_tol(cn_a="IX"),),
            ),
        ),
        "Ruddlesden-Popper_phase",
    )
)

_add(Family(
    "antiperovskite", ("antiperovskite", "anti-perovskite", "anti perovskite", "x3ba"),
    "X3BA: the perovskite with cations and anions exchanged (e.g. Li3OCl solid electrolytes).",
    (Prototype("A3BX", (
        _s("A", 3, "cation", "Li+ Na+ K+ Ag+ Cu+", "octahedral vertices"),
        _s("B", 1, "anion", "O2- S2- Se2-", "octahedral centre"),
        _s("X", 1, "anion", "Cl- Br- I- F-", "A site"),
    ), (221, 127, 63), ("Li3OCl", "Li3OBr", "Na3OCl", "Na3OBr", "K3OI", "Ag3SI")),),
    "Antiperovskite",
))


def _expand_lanthanides() -> None:
    """Replace the "Ln3+" shorthand by every trivalent lanthanide."""
    for name, fam in list(FAMILIES.items()):
        protos = []
        for p in fam.prototypes:
            sites = []
            for s in p.sites:
                ions: list[str] = []
                for ion in s.ions:
                    ions.extend(_LN3.split() if ion == "Ln3+" else [ion])
                sites.append(Site(s.label, s.count, s.role, tuple(dict.fromkeys(ions)), s.note))
            protos.append(Prototype(p.name, tuple(sites), p.space_groups, p.examples, p.size_rules))
        FAMILIES[name] = Family(
            fam.name, fam.aliases, fam.description, tuple(protos), fam.wikipedia, fam.bonding
        )


_expand_lanthanides()


class UnknownFamilyError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def family_aliases() -> dict[str, str]:
    """lower-case alias phrase -> family name."""
    out: dict[str, str] = {}
    for fam in FAMILIES.values():
        out[fam.name] = fam.name
        for alias in fam.aliases:
            out[alias] = fam.name
    return out


def get_family(name: str) -> Family:
    """Look a family up by name or alias (case-insensitive)."""
    key = " ".join(str(name).lower().replace("_", " ").split())
    aliases = family_aliases()
    if key in aliases:
        return FAMILIES[aliases[key]]
    if key.endswith("s") and key[:-1] in aliases:
        return FAMILIES[aliases[key[:-1]]]
    raise UnknownFamilyError(
        f"unknown crystal family {name!r}; known families: {', '.join(FAMILIES)}"
    )


def families_with_ratio(ratio: Sequence[int]) -> list[Family]:
    """Families having a prototype with this atom ratio (order-free)."""
    want = normalise_ratio(ratio)
    return [f for f in FAMILIES.values() if any(normalise_ratio(r) == want for r in f.ratios)]
