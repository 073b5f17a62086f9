"""``genms data prepare``: sources -> ``{cache_dir}/{dataset}/{split}.npz``, cached by fingerprint.

For each split the rows of its source are parsed (:mod:`genms.data.parse`), filtered (a row is
skipped, and counted by reason, when it holds bytes that are not UTF-8, its CIF does not parse,
it is disordered, truncated or not physical (see ``report.REASONS``), its composition differs
from the row's formula, a required target is missing or NaN, it has more than ``max_atoms``
atoms, or an earlier row with the same id was kept) and written as
:class:`~genms.data.arrays.CrystalArrays` at a stable path with
``meta["fingerprint"]`` = sha256 over the source files' bytes, the settings and
:data:`FORMAT_VERSION`. A file whose fingerprint matches is not rebuilt.

:func:`load_prepared` reads the stable path and needs no source files (the GPU machine has none).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genms.crystal.composition import FormulaError, composition_from_numbers, parse_formula
from genms.data.arrays import CrystalArrays
from genms.data.config import DataConfig, DataNotPreparedError, resolve_parse_cache_dir
from genms.data.parse import PARSE_VERSION, ParsedSource, parse_source, same_proportions
from genms.data.report import SkipReport
from genms.data.sources import (
    CGCNN_FRACTIONS,
    DATASETS,
    FORMATS,
    DatasetSpec,
    DataSourceError,
    SourceTable,
    file_sha256,
    folder_sha256,
    locate,
    read_cif_folder,
    read_csv_table,
)
from genms.data.splits import random_split
from genms.paths import resolve_cache_dir

log = logging.getLogger(__name__)

#: Version of the prepared-file contents; part of every fingerprint.
FORMAT_VERSION = 2


def prepared_path(cache_dir: str | Path | None, dataset: str, split: str) -> Path:
    root = cache_dir if isinstance(cache_dir, Path) else resolve_cache_dir(cache_dir)
    return root / dataset / f"{split}.npz"


def load_prepared(dataset: str, split: str, cache_dir: str | Path | None = None) -> CrystalArrays:
    """The prepared arrays of ``dataset``/``split`` (``cache_dir``: a path, ``auto`` or None)."""
    path = prepared_path(cache_dir, dataset, split)
    if not path.is_file():
        known = DATASETS.get(dataset)
        hint = "" if known else f" ({dataset!r} is not a known dataset: {', '.join(DATASETS)})"
        if known and split not in known.split_names:
            hint = f" ({dataset} has splits {', '.join(known.split_names)})"
        raise DataNotPreparedError(
            f"prepared data {path} not found{hint}; build it with "
            f"`genms data prepare {dataset} paths.cache_dir={path.parent.parent}`"
        )
    return CrystalArrays.load(path)


def read_meta(path: Path) -> dict | None:
    """The meta dict of a prepared file, or None when it is absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta_json"]))
    except Exception:
        return None


def fingerprint(payload: dict) -> str:
    blob = json.dumps({"format_version": FORMAT_VERSION, "parse_version": PARSE_VERSION, **payload},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class SplitResult:
    dataset: str
    split: str
    path: Path
    status: str  # "built" or "cached"
    meta: dict = field(default_factory=dict)

    @property
    def report(self) -> dict:
        return self.meta.get("report", {})


@dataclass
class PrepareContext:
    """Everything a prepare step needs besides the dataset name."""

    cfg: DataConfig
    roots: list[Path]
    cache_dir: Path
    parse_cache_dir: Path | None = None

    @classmethod
    def create(cls, cfg: DataConfig, roots: list[Path], cache_dir: Path) -> PrepareContext:
        return cls(cfg, roots, cache_dir, resolve_parse_cache_dir(cfg.parse_cache_dir))

    def max_atoms(self, spec: DatasetSpec) -> int:
        return spec.max_atoms if self.cfg.max_atoms is None else int(self.cfg.max_atoms)

    def parse(self, table: SourceTable, sha: str) -> ParsedSource:
        return parse_source(table, sha, self.cfg.parse_settings(), self.parse_cache_dir,
                            self.cfg.workers, self.cfg.chunksize, self.cfg.progress)

    def cached(self, dataset: str, split: str, fp: str) -> SplitResult | None:
        path = prepared_path(self.cache_dir, dataset, split)
        if self.cfg.force or not path.is_file():
            return None
        meta = read_meta(path)
        if meta is None or meta.get("fingerprint") != fp:
            return None
        return SplitResult(dataset, split, path, "cached", meta)

    def save(self, arrays: CrystalArrays, dataset: str, split: str) -> SplitResult:
        path = prepared_path(self.cache_dir, dataset, split)
        arrays.save(path)
        log.info("wrote %s (%d crystals)", path, len(arrays))
        return SplitResult(dataset, split, path, "built", arrays.meta)


def select_rows(
    table: SourceTable,
    parsed: ParsedSource,
    rows,
    required: tuple[str, ...],
    max_atoms: int,
    report: SkipReport,
    seen: set[str] | None = None,
    exclude: dict[str, str] | None = None,
) -> list[int]:
    """The rows of ``rows`` that are kept, in order; every other row is counted in ``report``.

    The checks, in order: the row was read whole (``table.bad_rows``), the CIF parsed, its
    composition is the row's formula (when the source has one), the ``required`` targets are
    finite, at most ``max_atoms`` atoms, the id is not empty, not a key of ``exclude`` (id ->
    the reason it is counted under) and not in ``seen`` (ids kept earlier; updated in place).
    """
    index = parsed.index_of_rows(len(table))
    n_atoms = parsed.arrays.n_atoms
    seen = set() if seen is None else seen
    kept = []
    for r in np.asarray(rows, np.int64).tolist():
        rid = str(table.ids[r])
        report.rows += 1
        if r in table.bad_rows:
            reason, message = table.bad_rows[r]
            report.skip(reason, rid or f"row {r}", message)
            continue
        if r in parsed.failures:
            reason, message = parsed.failures[r]
            report.skip(reason, rid or f"row {r}", message)
            continue
        mismatch = _formula_mismatch(table, parsed, r, int(index[r]))
        if mismatch:
            report.skip("formula_mismatch", rid or f"row {r}", mismatch)
            continue
        missing = [t for t in required if not np.isfinite(table.targets[t][r])]
        if missing:
            report.skip("missing_target", rid, ",".join(missing))
            continue
        n = int(n_atoms[index[r]])
        if n > max_atoms:
            report.skip("too_many_atoms", rid, f"{n} > {max_atoms}")
            continue
        if not rid:
            report.skip("missing_id", f"row {r}")
            continue
        if exclude is not None and rid in exclude:
            report.skip(exclude[rid], rid)
            continue
        if rid in seen:
            report.skip("duplicate_id", rid)
            continue
        seen.add(rid)
        kept.append(r)
        report.kept += 1
    return kept


def _formula_mismatch(table: SourceTable, parsed: ParsedSource, row: int, entry: int) -> str | None:
    """Why row ``row``'s parsed atoms are not its formula column's composition, or None (also
    when the source has no formulas or the formula cannot be read)."""
    formula = table.formulas[row] if table.formulas is not None else ""
    if not formula:
        return None
    try:
        expected = parse_formula(formula)
    except (FormulaError, ValueError):
        return None
    got = composition_from_numbers(parsed.arrays.crystal(entry).atomic_numbers)
    if same_proportions(got, expected):
        return None
    return f"the CIF holds {got.reduced_formula}, the row says {formula}"


def assemble(
    table: SourceTable, parsed: ParsedSource, rows: list[int], meta: dict
) -> CrystalArrays:
    """Arrays of the given source rows (all of which parsed), with the table's ids and targets."""
    rows_arr = np.asarray(rows, np.int64)
    sub = parsed.arrays.subset(parsed.index_of_rows(len(table))[rows_arr])
    targets = {k: v[rows_arr].astype(np.float64) for k, v in table.targets.items()}
    return CrystalArrays(sub.frac_coords, sub.atomic_numbers, sub.lattice, sub.n_atoms,
                         np.asarray(table.ids)[rows_arr].astype(str), targets, meta)


def source_entry(path: Path) -> dict:
    return {"folder": path.parent.name, "file": path.name, "sha256": file_sha256(path)}


def _settings(ctx: PrepareContext, spec: DatasetSpec) -> dict:
    return {**ctx.cfg.parse_settings(), "max_atoms": ctx.max_atoms(spec)}


def prepare_csv(spec: DatasetSpec, ctx: PrepareContext) -> list[SplitResult]:
    folder, files = locate(spec, ctx.roots)
    fmt = FORMATS[spec.format]
    results = []
    for split, path in files.items():
        src = source_entry(path)
        settings = _settings(ctx, spec)
        fp = fingerprint(
            {"dataset": spec.name, "split": split, "settings": settings, "sources": [src]}
        )
        hit = ctx.cached(spec.name, split, fp)
        if hit:
            results.append(hit)
            continue
        table = read_csv_table(path, fmt, f"{spec.name}/{split}")
        parsed = ctx.parse(table, src["sha256"])
        report = SkipReport()
        rows = select_rows(
            table, parsed, range(len(table)), fmt.required, settings["max_atoms"], report
        )
        report.check()
        meta = {"dataset": spec.name, "split": split, "fingerprint": fp, "settings": settings,
                "sources": [src], "source_paths": [str(path)], "report": report.to_dict()}
        results.append(ctx.save(assemble(table, parsed, rows, meta), spec.name, split))
    return results


def prepare_random_split(spec: DatasetSpec, ctx: PrepareContext) -> list[SplitResult]:
    """mp_cgcnn: drop (and count) formation energies below the threshold, then a seeded 80/10/10."""
    _, files = locate(spec, ctx.roots)
    path = next(iter(files.values()))
    src = source_entry(path)
    settings = {
        **_settings(ctx, spec),
        "seed": ctx.cfg.cgcnn_seed,
        "fractions": list(CGCNN_FRACTIONS),
        "min_formation_energy": ctx.cfg.cgcnn_min_formation_energy,
    }
    fps = {
        s: fingerprint({"dataset": spec.name, "split": s, "settings": settings, "sources": [src]})
        for s in spec.split_names
    }
    hits = [ctx.cached(spec.name, s, fp) for s, fp in fps.items()]
    if all(hits):
        return hits  # type: ignore[return-value]
    fmt = FORMATS[spec.format]
    table = read_csv_table(path, fmt, spec.name)
    energy = table.targets["formation_energy_per_atom"]
    outlier = energy < ctx.cfg.cgcnn_min_formation_energy  # NaN compares False: counted later
    pre = SkipReport(rows=len(table))
    for r in np.flatnonzero(outlier):
        pre.skip("target_outlier", str(table.ids[r]), f"{energy[r]:.3f} eV/atom")
    pre.kept = int((~outlier).sum())
    pre.check()
    splits = random_split(np.flatnonzero(~outlier), CGCNN_FRACTIONS, spec.split_names,
                          np.random.default_rng(ctx.cfg.cgcnn_seed))
    parsed = ctx.parse(table, src["sha256"])
    results = []
    for split, split_rows in splits.items():
        report = SkipReport()
        rows = select_rows(table, parsed, split_rows, fmt.required, settings["max_atoms"], report)
        report.check()
        meta = {
            "dataset": spec.name,
            "split": split,
            "fingerprint": fps[split],
            "settings": settings,
            "sources": [src],
            "source_paths": [str(path)],
            "report": report.to_dict(),
            "before_split": pre.to_dict(),
            "split_sizes": {k: int(len(v)) for k, v in splits.items()},
        }
        results.append(ctx.save(assemble(table, parsed, rows, meta), spec.name, split))
    return results


def prepare_cif_dir(spec: DatasetSpec, ctx: PrepareContext) -> list[SplitResult]:
    if not ctx.cfg.cif_dir:
        raise DataSourceError("dataset 'cif_dir' needs a folder: add data.cif_dir=/path/to/cifs")
    folder = Path(ctx.cfg.cif_dir).expanduser().resolve()
    if not folder.is_dir():
        raise DataSourceError(
            f"CIF folder {folder} does not exist; set data.cif_dir=/path/to/folder"
        )
    src = {"folder": str(folder), "file": "*.cif", "sha256": folder_sha256(folder)}
    settings = _settings(ctx, spec)
    fp = fingerprint({"dataset": spec.name, "split": "all", "settings": settings, "sources": [src]})
    hit = ctx.cached(spec.name, "all", fp)
    if hit:
        return [hit]
    table = read_cif_folder(folder)
    parsed = ctx.parse(table, src["sha256"])
    report = SkipReport()
    rows = select_rows(table, parsed, range(len(table)), (), settings["max_atoms"], report)
    report.check()
    meta = {"dataset": spec.name, "split": "all", "fingerprint": fp, "settings": settings,
            "sources": [src], "source_paths": [str(folder)], "report": report.to_dict()}
    return [ctx.save(assemble(table, parsed, rows, meta), spec.name, "all")]
