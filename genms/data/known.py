"""Known compounds: (reduced formula, space group, material id, dataset) rows from the datasets.

The table is the raw material of both the reference formula set (uniqueness in R_hi) and the
local retrieval of family examples. It comes from, in order of preference:

1. the prepared arrays (``genms data prepare``; :func:`genms.data.prepare.load_prepared`);
2. the dataset CSVs found in the data folder (formula from the CIF's ``_chemical_formula_sum``,
   no structure parsing, so a first build takes seconds);
3. the table shipped in the package (``genms/assets/known_formulae.tsv.gz``, built by
   ``scripts/build_known_formulae.py``), so ``genms propose`` works on a fresh machine.

Space groups come from the dataset's ``spacegroup.number`` column where there is one, else
from the shipped table (same material id), else (only when asked) from spglib at
``symprec=0.1``. ``0`` means unknown.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import spglib
from tqdm import tqdm

from genms.crystal.composition import (
    FormulaError,
    canonical_formula,
    composition_from_numbers,
    formula_ratio,
    normalise_ratio,
)
from genms.crystal.convert import CIFParseError, from_cif
from genms.data.prepare import load_prepared, prepared_path, read_meta
from genms.data.sources import (
    FORMATS,
    DataSourceError,
    data_roots,
    get_spec,
    locate,
    read_csv_table,
)
from genms.io import atomic_write_bytes
from genms.paths import ASSETS_DIR, resolve_cache_dir

log = logging.getLogger(__name__)

SHIPPED_PATH = ASSETS_DIR / "known_formulae.tsv.gz"
#: Datasets whose materials are Materials Project entries (examples and templates).
MP_DATASETS = ("mp_20", "mp_cgcnn", "mpts_52")
#: Every dataset of the data folder (the default reference for novelty).
ALL_DATASETS = ("mp_20", "mp_cgcnn", "mpts_52", "wbm", "perov_5", "carbon_24")
#: How datasets are named where users read them.
DATASET_LABELS = {
    "mp_20": "MP-20",
    "mp_cgcnn": "MP (CGCNN set)",
    "mpts_52": "MPTS-52",
    "wbm": "WBM",
    "perov_5": "Perov-5",
    "carbon_24": "Carbon-24",
}


def dataset_label(name: str) -> str:
    return DATASET_LABELS.get(name, name)
TABLE_VERSION = 1
_HEADER = "formula\tspacegroup\tmaterial_id\tdataset"
_FORMULA_SUM_RE = re.compile(r"^_chemical_formula_sum\s+'?([^'\n]+?)'?\s*$", re.MULTILINE)


class ReferenceError(ValueError):
    """The reference data cannot be loaded as configured (the message says how to fix it)."""


@dataclass(frozen=True)
class KnownCompound:
    formula: str  # reduced formula (pymatgen)
    spacegroup: int  # international number, 0 = unknown
    material_id: str
    dataset: str


def row_order(r: KnownCompound) -> tuple:
    """The order of the rows in a saved table (and of a table just built, so that a first run,
    which builds the table, proposes the same formulae as the later ones, which load it)."""
    return (r.formula, r.dataset, r.material_id)


class KnownCompounds:
    """An immutable table of known compounds with formula and ratio indices."""

    def __init__(self, rows: Iterable[KnownCompound], origin: str = "") -> None:
        self.rows: tuple[KnownCompound, ...] = tuple(rows)
        self.origin = origin

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def by_formula(self) -> dict[str, list[KnownCompound]]:
        out: dict[str, list[KnownCompound]] = {}
        for r in self.rows:
            out.setdefault(r.formula, []).append(r)
        return out

    @cached_property
    def by_ratio(self) -> dict[tuple, list[str]]:
        """ratio -> distinct formulae with that ratio (first-seen order)."""
        out: dict[tuple, list[str]] = {}
        for f in self.by_formula:
            try:
                out.setdefault(formula_ratio(f), []).append(f)
            except FormulaError:
                continue
        return out

    def datasets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.dataset for r in self.rows))

    def formulae(self, datasets: Sequence[str] | None = None) -> frozenset[str]:
        if datasets is None:
            return frozenset(self.by_formula)
        keep = set(datasets)
        return frozenset(r.formula for r in self.rows if r.dataset in keep)

    def with_ratio(self, ratio: Sequence[int]) -> list[str]:
        return list(self.by_ratio.get(normalise_ratio(ratio), []))

    def spacegroups_of(self, formula: str) -> tuple[int, ...]:
        return tuple(
            sorted({r.spacegroup for r in self.by_formula.get(formula, []) if r.spacegroup})
        )

    def select(self, datasets: Sequence[str]) -> KnownCompounds:
        keep = set(datasets)
        return KnownCompounds((r for r in self.rows if r.dataset in keep), self.origin)

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Gzipped TSV, written atomically."""
        path = Path(path)
        buf = io.StringIO()
        buf.write(f"# genms known compounds v{TABLE_VERSION}\n{_HEADER}\n")
        for r in sorted(self.rows, key=row_order):
            buf.write(f"{r.formula}\t{r.spacegroup}\t{r.material_id}\t{r.dataset}\n")
        # mtime=0: the same rows always give the same bytes.
        return atomic_write_bytes(
            path, gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0)
        )

    @classmethod
    def load(cls, path: str | Path) -> KnownCompounds:
        path = Path(path)
        rows = []
        with gzip.open(path, "rt") as fh:
            for line in fh:
                if line.startswith("#") or line.startswith("formula\t"):
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 4:
                    continue
                rows.append(KnownCompound(parts[0], int(parts[1] or 0), parts[2], parts[3]))
        return cls(rows, str(path))


@lru_cache(maxsize=1)
def load_shipped() -> KnownCompounds:
    """The table shipped with the package (empty when it is missing)."""
    if not SHIPPED_PATH.is_file():
        log.warning("shipped known-compound table %s is missing", SHIPPED_PATH)
        return KnownCompounds((), "none")
    return KnownCompounds.load(SHIPPED_PATH)


def formula_from_cif(text: str) -> str | None:
    """Reduced formula from a CIF's ``_chemical_formula_sum`` (no structure parsing)."""
    m = _FORMULA_SUM_RE.search(text or "")
    if not m:
        return None
    return canonical_formula(m.group(1).replace(" ", ""))


def spacegroup_of_cif(text: str, symprec: float = 0.1) -> int:
    """Space-group number by spglib (0 when the CIF does not parse)."""
    try:
        c = from_cif(text)
    except (CIFParseError, ValueError):
        return 0
    data = spglib.get_symmetry_dataset(
        (c.lattice, c.frac_coords, c.atomic_numbers), symprec=symprec
    )
    return int(data.number) if data is not None else 0


def _spacegroup_column(targets: dict[str, np.ndarray], i: int) -> int:
    col = targets.get("spacegroup_number")
    if col is None or not np.isfinite(col[i]):
        return 0
    return int(col[i])


def _shipped_spacegroups() -> dict[tuple[str, str], int]:
    return {(r.dataset, r.material_id): r.spacegroup for r in load_shipped().rows if r.spacegroup}


def from_sources(datasets: Sequence[str], data_dir: str | None, compute_spacegroups: bool = False,
                 progress: bool = False) -> KnownCompounds:
    """Rows from the dataset CSVs (:mod:`genms.data.sources`); missing datasets are skipped."""
    shipped_sg = _shipped_spacegroups()
    rows: list[KnownCompound] = []
    for name in datasets:
        spec = get_spec(name)
        try:
            _, files = locate(spec, data_roots(data_dir))
        except DataSourceError as exc:
            log.debug("known compounds: %s", exc)
            continue
        for path in dict.fromkeys(files.values()):  # mp_cgcnn: one file for all splits
            table = read_csv_table(path, FORMATS[spec.format], name)
            it = range(len(table))
            if progress:
                it = tqdm(it, desc=f"{name}/{path.stem}")
            for i in it:
                formula = formula_from_cif(table.cifs[i])
                if formula is None:
                    continue
                mid = str(table.ids[i])
                sg = _spacegroup_column(table.targets, i) or shipped_sg.get((name, mid), 0)
                if not sg and compute_spacegroups:
                    sg = spacegroup_of_cif(table.cifs[i])
                rows.append(KnownCompound(formula, sg, mid, name))
    return KnownCompounds(rows, "sources")


def from_prepared(datasets: Sequence[str], cache_dir: str | Path | None) -> KnownCompounds:
    """Rows from prepared arrays; raises ``DataNotPreparedError`` when one is missing."""
    shipped_sg = _shipped_spacegroups()
    rows: list[KnownCompound] = []
    for name in datasets:
        for split in get_spec(name).split_names:
            arr = load_prepared(name, split, cache_dir)
            offsets = arr.offsets
            for i in range(len(arr)):
                numbers = arr.atomic_numbers[offsets[i] : offsets[i + 1]]
                formula = composition_from_numbers(numbers).reduced_formula
                mid = str(arr.ids[i])
                sg = _spacegroup_column(arr.targets, i) or shipped_sg.get((name, mid), 0)
                rows.append(KnownCompound(formula, sg, mid, name))
    return KnownCompounds(rows, "prepared")


def _sources_fingerprint(datasets: Sequence[str], data_dir: str | None) -> str | None:
    parts = [f"v{TABLE_VERSION}"]
    found = False
    for name in datasets:
        try:
            _, files = locate(get_spec(name), data_roots(data_dir))
        except DataSourceError:
            parts.append(f"{name}:absent")
            continue
        found = True
        for path in sorted(set(files.values())):
            st = path.stat()
            parts.append(f"{name}:{path}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16] if found else None


def _prepared_fingerprint(datasets: Sequence[str], cache_dir: str | Path | None) -> str | None:
    parts = [f"v{TABLE_VERSION}"]
    for name in datasets:
        for split in get_spec(name).split_names:
            meta = read_meta(prepared_path(cache_dir, name, split))
            if meta is None:
                return None
            parts.append(f"{name}/{split}:{meta.get('fingerprint')}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load_known(datasets: Sequence[str], source: str = "auto", data_dir: str | None = "auto",
               cache_dir: str | Path | None = "auto") -> KnownCompounds:
    """The known-compound table for ``datasets``.

    ``source``: ``prepared`` | ``sources`` | ``shipped`` | ``auto`` (prepared arrays when all
    are built, else the CSVs when present, else the shipped table). Tables built from data
    are cached under ``{cache_dir}/language/``.
    """
    if source not in ("auto", "prepared", "sources", "shipped"):
        raise ReferenceError(f"reference.source={source!r}: use auto, prepared, sources or shipped")
    cache_root = resolve_cache_dir(None if cache_dir == "auto" else str(cache_dir)) / "language"
    if source in ("auto", "prepared"):
        fp = _prepared_fingerprint(datasets, cache_dir)
        if fp is not None:
            return _cached(
                cache_root / f"known-prepared-{fp}.tsv.gz",
                lambda: from_prepared(datasets, cache_dir),
            )
        if source == "prepared":
            raise ReferenceError(
                f"prepared arrays for {', '.join(datasets)} are missing; run `genms data prepare "
                "<dataset>` "
                f"or set reference.source=auto"
            )
    if source in ("auto", "sources"):
        fp = _sources_fingerprint(datasets, data_dir)
        if fp is not None:
            return _cached(
                cache_root / f"known-sources-{fp}.tsv.gz", lambda: from_sources(datasets, data_dir)
            )
        if source == "sources":
            raise ReferenceError(
                f"no source files for {', '.join(datasets)} under data_dir={data_dir}; set "
                "paths.data_dir or reference.source=shipped"
            )
    return load_shipped().select(datasets)


def _cached(path: Path, build) -> KnownCompounds:
    if path.is_file():
        try:
            return KnownCompounds.load(path)
        except (OSError, EOFError, ValueError) as exc:
            log.warning("ignoring unreadable cache %s: %s", path, exc)
    table = build()
    try:
        table.save(path)
    except OSError as exc:
        log.warning("could not cache the known-compound table at %s: %s", path, exc)
    # the rows in the saved (= loaded) order: the proposer's draws depend on it
    return KnownCompounds(sorted(table.rows, key=row_order), table.origin)
