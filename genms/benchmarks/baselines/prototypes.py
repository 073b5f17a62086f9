"""Known members of a crystal family found in the datasets (templates for the baselines).

A structure is a member of a family when its atom ratio is one of the family's ratios
(:mod:`genms.language.families`) and its space group (spglib, ``symprec``) is one of the
family's space groups: e.g. a cubic Pm-3m ABX3 for perovskite, an Fd-3m AB2X4 for spinel and
an Fd-3m A2B2X7 for pyrochlore. The datasets are scanned cheaply (formula from the CSV or from
the CIF's ``_chemical_formula_sum``, ratio filter) before any CIF is parsed; the members found
are cached as CIF text under the user cache, keyed by family, settings and source files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from pymatgen.core import Element, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from genms.configs import ranged
from genms.crystal.composition import FormulaError, formula_ratio, normalise_ratio
from genms.crystal.convert import from_cif, from_pymatgen, to_cif
from genms.crystal.structure import Crystal
from genms.data.sources import DataSourceError, data_roots, get_spec, locate
from genms.io import atomic_write_json
from genms.language.families import UnknownFamilyError, get_family
from genms.paths import user_cache_dir

log = logging.getLogger(__name__)

_FORMULA_SUM_RE = re.compile(r"^_chemical_formula_sum\s+'?([^'\n]+?)'?\s*$", re.MULTILINE)
CACHE_VERSION = 3


class PrototypeError(ValueError):
    """No dataset to scan, or no member of the family in it (the message says what to do)."""


@dataclass(frozen=True)
class PrototypeConfig:
    """Where and how family members are looked for.

    Attributes:
      datasets: dataset names (``genms.data.sources.DATASETS``) scanned, in order.
      files: CSV files scanned instead of the datasets (CDVAE format or ``mp_cgcnn``).
      data_dir: ``auto`` = ../shared/data when present, else the user cache's data folder.
      max_per_family: members kept per family (the first ones found, aristotype first).
      max_atoms: larger cells are skipped (templates stay small).
      symprec: spglib tolerance for the space-group check.
      cache: keep the members found under the user cache.
    """

    datasets: list[str] = field(default_factory=lambda: ["mp_cgcnn", "mp_20"])
    files: list[str] = field(default_factory=list)
    data_dir: str = "auto"
    max_per_family: int = ranged(24, 1, 100_000)
    max_atoms: int = ranged(40, 1, 1000)
    symprec: float = ranged(0.1, 0, 10, lo_open=True)
    cache: bool = True


@dataclass(frozen=True)
class Prototype:
    """A family member: its id, reduced formula, space group and structure."""

    material_id: str
    formula: str
    spacegroup: int
    crystal: Crystal
    source: str = ""


def _source_files(cfg: PrototypeConfig) -> list[Path]:
    if cfg.files:
        files = [Path(f).expanduser() for f in cfg.files]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise PrototypeError(f"prototype source files not found: {missing}")
        return files

    files: list[Path] = []
    for name in cfg.datasets:
        try:
            _, split_files = locate(get_spec(name), data_roots(cfg.data_dir))
        except DataSourceError as exc:
            log.info("dataset %s skipped for prototypes: %s", name, exc)
            continue
        files += [p for p in split_files.values() if p not in files]
    if not files:
        raise PrototypeError(
            f"none of the datasets {cfg.datasets} is available; run `genms data download` "
            "or give prototypes.files=[<csv>]"
        )
    return files


def _ratio(formula: str) -> tuple | None:
    try:
        return formula_ratio(formula.replace(" ", ""))
    except (FormulaError, ValueError, KeyError):
        return None


def _row_formula(row: dict) -> str:
    for col in ("pretty_formula", "formula"):
        if isinstance(row.get(col), str) and row[col]:
            return row[col]
    m = _FORMULA_SUM_RE.search(row.get("cif", ""))
    return m.group(1).replace(" ", "") if m else ""


def _anion_on_anion_site(structure, family) -> bool:
    """The most electronegative element sits on the family's anion site (no anti-structures).

    Anti-perovskites (A3BX, e.g. Ca3BiN) share the ABX3 ratio with the anion on a cation site;
    they are not templates for a perovskite request. Families without anion sites pass.
    """
    amounts = {el: int(round(v)) for el, v in structure.composition.get_el_amt_dict().items()}
    g = math.gcd(*amounts.values())
    anion = max(amounts, key=lambda el: _pauling(el))
    for proto in family.prototypes:
        if normalise_ratio([s.count for s in proto.sites]) != normalise_ratio(
            list(amounts.values())
        ):
            continue
        anion_sites = [s for s in proto.sites if s.role == "anion"]
        if not anion_sites:
            return True
        elements = {re.sub(r"[\d+-]+$", "", ion) for s in anion_sites for ion in s.ions}
        if amounts[anion] // g in {s.count for s in anion_sites} and anion in elements:
            return True
    return False


def _pauling(symbol: str) -> float:
    x = Element(symbol).X
    return float(x) if x == x else 4.5


def scan_family(family_name: str, cfg: PrototypeConfig, files: Sequence[Path]) -> list[Prototype]:
    """Members of the family in ``files`` (without the cache)."""
    family = get_family(family_name)
    ratios = {normalise_ratio(r) for r in family.ratios}
    groups = list(family.space_groups)
    found: list[Prototype] = []
    for path in files:
        df = pd.read_csv(path)
        if "cif" not in df.columns:
            log.warning("%s has no cif column; skipped", path)
            continue
        sg_col = "spacegroup.number" if "spacegroup.number" in df.columns else None
        for row in df.to_dict(orient="records"):
            if sg_col and int(row[sg_col]) not in groups:
                continue
            formula = _row_formula(row)
            if _ratio(formula) not in ratios:
                continue
            try:
                s = Structure.from_str(row["cif"], fmt="cif")
                if len(s) > cfg.max_atoms or not s.is_ordered:
                    continue
                sg = SpacegroupAnalyzer(s, symprec=cfg.symprec).get_space_group_number()
            except Exception as exc:  # an unreadable row is not a prototype
                log.debug("row %s skipped: %s", row.get("material_id"), exc)
                continue
            if sg not in groups or not _anion_on_anion_site(s, family):
                continue
            mid = str(row.get("material_id", len(found)))
            found.append(Prototype(mid, s.composition.reduced_formula, sg,
                                   from_pymatgen(s, {"id": mid}), path.name))
            if len(found) >= 4 * cfg.max_per_family:
                break
        if len(found) >= 4 * cfg.max_per_family:
            break
    # Aristotype (the family's first space group) first, then small cells.
    found.sort(
        key=lambda p: (groups.index(p.spacegroup), len(p.crystal.atomic_numbers), p.material_id)
    )
    unique: dict[str, Prototype] = {}
    for p in found:
        unique.setdefault(f"{p.formula}-{p.spacegroup}", p)
    return list(unique.values())[: cfg.max_per_family]


def _cache_path(family: str, cfg: PrototypeConfig, files: Sequence[Path]) -> Path:
    stamp = [(str(f.resolve()), f.stat().st_size, int(f.stat().st_mtime)) for f in files]
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("cache", "data_dir")}
    key = hashlib.sha1(json.dumps([CACHE_VERSION, family, settings, stamp]).encode()).hexdigest()[
        :12
    ]
    return user_cache_dir() / "baselines" / f"prototypes-{family.replace(' ', '_')}-{key}.json"


def family_prototypes(family: str, cfg: PrototypeConfig = PrototypeConfig()) -> list[Prototype]:
    """Members of ``family`` (cached); raises :class:`PrototypeError` when there is none."""
    try:
        name = get_family(family).name
    except UnknownFamilyError as exc:
        raise PrototypeError(str(exc)) from None
    files = _source_files(cfg)
    path = _cache_path(name, cfg, files)
    if cfg.cache and path.is_file():
        rows = json.loads(path.read_text())
        return [Prototype(r["material_id"], r["formula"], r["spacegroup"],
                          from_cif(r["cif"], {"id": r["material_id"]}), r["source"]) for r in rows]
    protos = scan_family(name, cfg, files)
    if not protos:
        raise PrototypeError(
            f"no {name} (ratio {get_family(name).ratio_text()}, space groups "
            f"{list(get_family(name).space_groups)}) found in {[f.name for f in files]}"
        )
    if cfg.cache:
        rows = [{"material_id": p.material_id, "formula": p.formula, "spacegroup": p.spacegroup,
                 "source": p.source, "cif": to_cif(p.crystal)} for p in protos]
        atomic_write_json(path, rows, indent=None)
    log.info(
        "%d %s prototypes: %s",
        len(protos),
        name,
        ", ".join(f"{p.formula} ({p.spacegroup})" for p in protos[:6]),
    )
    return protos
