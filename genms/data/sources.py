"""Source formats and the dataset registry: which files make which split, read into tables.

Formats read here:

* the CDVAE/DiffCSP CSV (mp_20, perov_5, carbon_24, mpts_52): an unnamed pandas index
  column, ``material_id``, a multi-line quoted ``cif`` field and target columns;
* ``mp_cgcnn_36k/data.csv`` (``cgcnn_id, material_id, formation_energy_per_atom, band_gap,
  mp20_known_split, cif``);
* ``wbm_subset_10k/val.csv`` (no ids: rows get ``wbm-<row>``);
* a folder of ``*.cif`` files (id = file stem, no targets).

A :class:`SourceTable` holds one source's ids, CIF texts and numeric targets; parsing the CIFs
is :mod:`genms.data.parse`'s job. :data:`DATASETS` maps a dataset name to its splits and files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

from genms.paths import resolve_data_dir, user_cache_dir


class DataSourceError(RuntimeError):
    """A dataset's source files are absent or unreadable (the message says how to fix it)."""


@dataclass(frozen=True)
class TableFormat:
    """How to read one CSV: the id column, the CIF column and the targets.

    ``targets`` maps a target name (the key in ``CrystalArrays.targets``) to its column;
    a listed column that a file lacks is read as all-NaN. ``required`` names the targets a
    row must have (finite) to be kept. ``formula_column``, when the file has it, holds each
    row's formula: a CIF of another composition is skipped (``formula_mismatch``).
    """

    id_column: str | None
    targets: tuple[tuple[str, str], ...]
    required: tuple[str, ...]
    id_prefix: str = ""
    cif_column: str = "cif"
    formula_column: str | None = None


MP_TARGETS = (
    ("formation_energy_per_atom", "formation_energy_per_atom"),
    ("band_gap", "band_gap"),
    ("e_above_hull", "e_above_hull"),
    ("spacegroup_number", "spacegroup.number"),
)
FORMATS: dict[str, TableFormat] = {
    "mp_20": TableFormat(
        "material_id", MP_TARGETS, ("formation_energy_per_atom",), formula_column="pretty_formula"
    ),
    "perov_5": TableFormat(
        "material_id",
        (
            ("heat_ref", "heat_ref"),
            ("heat_all", "heat_all"),
            ("dir_gap", "dir_gap"),
            ("ind_gap", "ind_gap"),
        ),
        ("heat_ref",),
        formula_column="formula",
    ),
    "carbon_24": TableFormat(
        "material_id", (("energy_per_atom", "energy_per_atom"),), ("energy_per_atom",)
    ),
    "mpts_52": TableFormat(
        "material_id",
        (
            ("formation_energy_per_atom", "formation_energy_per_atom"),
            ("e_above_hull", "energy_above_hull"),
        ),
        ("formation_energy_per_atom",),
    ),
    "mp_cgcnn": TableFormat(
        "material_id",
        (("formation_energy_per_atom", "formation_energy_per_atom"), ("band_gap", "band_gap")),
        ("formation_energy_per_atom",),
    ),
    "wbm": TableFormat(
        None,
        (("formation_energy_per_atom", "formation_energy_per_atom"), ("band_gap", "band_gap")),
        ("formation_energy_per_atom",),
        id_prefix="wbm-",
    ),
}


@dataclass
class SourceTable:
    """One source: ``ids[i]``, ``cifs[i]`` and ``targets[name][i]`` describe row ``i``.

    ``formulas[i]`` is row ``i``'s formula ("" when unknown; None: the source has none);
    ``bad_rows`` maps a row that cannot be used as read (bytes that are not UTF-8) to
    (reason, message): it is skipped and counted, the other rows are kept.
    """

    name: str
    ids: np.ndarray
    cifs: list[str]
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    formulas: list[str] | None = None
    bad_rows: dict[int, tuple[str, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cifs)


def read_csv_table(path: str | Path, fmt: TableFormat, name: str | None = None) -> SourceTable:
    """Read a CSV source; raises :class:`DataSourceError` naming the file when it is unusable."""
    path = Path(path)
    dtype = {fmt.id_column: str} if fmt.id_column else None
    try:
        # Bytes that are not UTF-8 become lone surrogates: their rows are found and skipped below.
        df = pd.read_csv(path, dtype=dtype, keep_default_na=True, encoding_errors="surrogateescape")
    except FileNotFoundError as exc:
        raise DataSourceError(f"{path} does not exist") from exc
    except Exception as exc:  # pandas raises ParserError, UnicodeDecodeError, EmptyDataError...
        raise DataSourceError(f"cannot read {path} as CSV: {type(exc).__name__}: {exc}") from exc
    needed = [fmt.cif_column] + ([fmt.id_column] if fmt.id_column else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataSourceError(
            f"{path} lacks column(s) {missing}; found {list(df.columns)}. Is it the right file for "
            "this dataset?"
        )
    if fmt.id_column:
        ids = df[fmt.id_column].fillna("").astype(str).str.strip().to_numpy()
    else:
        ids = np.array([f"{fmt.id_prefix}{i}" for i in range(len(df))])
    cifs = [c if isinstance(c, str) else "" for c in df[fmt.cif_column].tolist()]
    targets = {}
    for tname, col in fmt.targets:
        if col in df.columns:
            targets[tname] = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
        else:
            targets[tname] = np.full(len(df), np.nan)
    formulas = None
    if fmt.formula_column and fmt.formula_column in df.columns:
        formulas = [
            f.strip() if isinstance(f, str) else "" for f in df[fmt.formula_column].tolist()
        ]
    ids = ids.astype(object)
    bad_rows = undecodable_rows(df)
    for r in bad_rows:  # the row is skipped: only a printable id is kept, for the report
        ids[r] = printable(str(ids[r]))
        cifs[r] = ""
    return SourceTable(name or path.stem, ids.astype(str), cifs, targets, formulas, bad_rows)


_SURROGATE = re.compile("[\udc80-\udcff]")


def printable(text: str) -> str:
    """``text`` with each undecodable byte (a lone surrogate) shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def undecodable_rows(df) -> dict[int, tuple[str, str]]:
    """Rows of a table read with ``encoding_errors="surrogateescape"`` that hold bytes that are
    not UTF-8 -> ("bad_encoding", which byte in which column)."""
    bad: dict[int, tuple[str, str]] = {}
    for col in df.columns:
        if not (is_object_dtype(df[col].dtype) or is_string_dtype(df[col].dtype)):
            continue
        for r, value in enumerate(df[col].tolist()):
            if r in bad or not isinstance(value, str):
                continue
            m = _SURROGATE.search(value)
            if m is not None:
                byte = ord(m.group()) - 0xDC00
                bad[r] = (
                    "bad_encoding",
                    f"byte {byte:#04x} in column {printable(str(col))!r} is not UTF-8",
                )
    return bad


def read_cif_folder(folder: str | Path) -> SourceTable:
    """Every ``*.cif`` in ``folder`` (sorted by name); id = file stem; no targets."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataSourceError(
            f"CIF folder {folder} does not exist; set data.cif_dir=/path/to/folder"
        )
    files = sorted(folder.glob("*.cif"))
    if not files:
        raise DataSourceError(f"no *.cif files in {folder}")
    cifs, bad_rows = [], {}
    for r, f in enumerate(files):
        data = f.read_bytes()
        try:
            cifs.append(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            cifs.append("")
            bad_rows[r] = (
                "bad_encoding",
                f"byte {data[exc.start]:#04x} at offset {exc.start} is not UTF-8",
            )
    return SourceTable(folder.name, np.array([f.stem for f in files]), cifs, {}, None, bad_rows)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_sha256(folder: str | Path) -> str:
    """Hash of a CIF folder: every ``*.cif`` name and content, in sorted order."""
    h = hashlib.sha256()
    for f in sorted(Path(folder).expanduser().glob("*.cif")):
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: where its files live and how they become splits.

    kind: ``csv`` (one file per split), ``random_split`` (one file split 80/10/10 by a seeded
    permutation), ``union`` (the MP training union, :mod:`genms.data.union`) or ``cif_dir``.
    folders: candidate folder names under each data root, preferred first (``mp_20``, the full
    download, wins over ``mp_20_partial``). The first folder that holds any split file is used.
    """

    name: str
    kind: str
    max_atoms: int
    description: str
    folders: tuple[str, ...] = ()
    splits: tuple[tuple[str, str], ...] = ()  # (split, file name in the folder)
    format: str | None = None

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(s for s, _ in self.splits)


CDVAE_SPLITS = (("train", "train.csv"), ("val", "val.csv"), ("test", "test.csv"))
#: mp_cgcnn split fractions (train, val, test) of the seeded permutation.
CGCNN_FRACTIONS = (0.8, 0.1, 0.1)

DATASETS: dict[str, DatasetSpec] = {
    "mp_20": DatasetSpec(
        "mp_20",
        "csv",
        20,
        "MP-20 (CDVAE); the full download in mp_20/ or the partial copy in mp_20_partial/",
        ("mp_20", "mp_20_partial"),
        CDVAE_SPLITS,
        "mp_20",
    ),
    "perov_5": DatasetSpec(
        "perov_5",
        "csv",
        5,
        "perovskites, 5 atoms per cell (CDVAE)",
        ("perov_5",),
        CDVAE_SPLITS,
        "perov_5",
    ),
    "carbon_24": DatasetSpec(
        "carbon_24",
        "csv",
        24,
        "carbon polymorphs, 6-24 atoms (CDVAE)",
        ("carbon_24",),
        CDVAE_SPLITS,
        "carbon_24",
    ),
    "mpts_52": DatasetSpec(
        "mpts_52",
        "csv",
        52,
        "MP time split, up to 52 atoms (DiffCSP)",
        ("mpts_52",),
        CDVAE_SPLITS,
        "mpts_52",
    ),
    "mp_cgcnn": DatasetSpec(
        "mp_cgcnn",
        "random_split",
        200,
        "36,737 MP structures with DFT formation energies (CGCNN)",
        ("mp_cgcnn_36k",),
        (("train", "data.csv"), ("val", "data.csv"), ("test", "data.csv")),
        "mp_cgcnn",
    ),
    "wbm": DatasetSpec(
        "wbm",
        "csv",
        100,
        "10,000 WBM structures (out-of-distribution test set)",
        ("wbm_subset_10k",),
        (("test", "val.csv"),),
        "wbm",
    ),
    "mp_union": DatasetSpec(
        "mp_union",
        "union",
        52,
        "leak-free MP training union; val/test = MP-20 val/test",
        (),
        (("train", ""), ("val", ""), ("test", "")),
    ),
    "cif_dir": DatasetSpec(
        "cif_dir", "cif_dir", 200, "a folder of CIF files (data.cif_dir=...)", (), (("all", ""),)
    ),
}


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataSourceError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)} (or 'all')")
    return DATASETS[name]


def data_roots(data_dir: str | None) -> list[Path]:
    """Folders searched for sources: the configured data dir; with ``auto`` also the user
    cache's ``data`` folder (where ``genms data download`` writes)."""
    roots = [resolve_data_dir(data_dir)]
    if not data_dir or data_dir == "auto":
        user = user_cache_dir() / "data"
        if user not in roots:
            roots.append(user)
    return roots


def locate(spec: DatasetSpec, roots: list[Path]) -> tuple[Path, dict[str, Path]]:
    """The folder used for ``spec`` and its present split files.

    Raises :class:`DataSourceError` listing the searched places when no split file exists.
    """
    for folder in spec.folders:
        for root in roots:
            base = root / folder
            present = {s: base / f for s, f in spec.splits if (base / f).is_file()}
            if present:
                return base, present
    searched = [str(r / f) for f in spec.folders for r in roots]
    hint = (f"run `genms data download {spec.name}`" if spec.name in DOWNLOADABLE
            else "set paths.data_dir=/path/to/data")
    raise DataSourceError(f"no source files for {spec.name!r} in {searched}; {hint}")


#: Datasets ``genms data download`` can fetch (see genms.data.download).
DOWNLOADABLE = ("mp_20", "perov_5", "carbon_24", "mpts_52")
