"""The leak-free Materials Project training union (dataset ``mp_union``) for the CSP benchmark.

The official MP-20 train split is not available in full, so the training set is assembled
from every Materials Project structure with at most 20 atoms in the data folder:

* train = MP-20 train rows, then mp_cgcnn_36k, then MPTS-52 (val, test and train when present),
  each row parsed like every other dataset and kept when it has <= ``max_atoms`` (20) atoms;
  minus every material id in the MP-20 val or test *files*;
  de-duplicated by material id (the first source in that order wins, so the MP-20 copy is
  preferred); minus every structure whose reduced formula AND space group equal those of a
  kept MP-20 test entry (space groups: MP-20's ``spacegroup.number``, else computed with
  pymatgen's ``SpacegroupAnalyzer(symprec=data.union_symprec)``; computed values are cached;
  a structure whose space group cannot be computed is removed when its formula matches);
* val = the MP-20 val rows, test = the MP-20 test rows (<= 20 atoms, as in ``mp_20``).

Rows are never dropped for a missing target here: ``formation_energy_per_atom`` is NaN where
a source lacks it, and mp_cgcnn energies below ``data.cgcnn_min_formation_energy`` are set
to NaN (the structure is kept). Counts per source and per rule go to ``meta["union"]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genms.data.arrays import CrystalArrays
from genms.data.parse import ParsedSource, map_with_progress
from genms.data.prepare import (
    PrepareContext,
    SplitResult,
    assemble,
    fingerprint,
    select_rows,
    source_entry,
)
from genms.data.report import SkipReport
from genms.data.sources import (
    DATASETS,
    FORMATS,
    DatasetSpec,
    DataSourceError,
    SourceTable,
    locate,
    read_csv_table,
)

log = logging.getLogger(__name__)

RULE = (
    "train = MP structures with <= max_atoms atoms from MP-20 train, mp_cgcnn_36k and MPTS-52, minus "
    "material ids in the MP-20 val/test files, de-duplicated by material id (MP-20 > mp_cgcnn > MPTS-52), "
    "minus structures whose reduced formula and space group equal an MP-20 test entry's; "
    "val/test = MP-20 val/test"
)
SG = "spacegroup_number"
FE = "formation_energy_per_atom"


@dataclass
class UnionSource:
    """One input file of the union: its label (e.g. ``mp_cgcnn``), path and table format."""

    label: str
    path: Path
    format: str

    def load(self, ctx: PrepareContext) -> tuple[SourceTable, ParsedSource, dict]:
        entry = source_entry(self.path)
        table = read_csv_table(self.path, FORMATS[self.format], self.label)
        return table, ctx.parse(table, entry["sha256"]), entry


def union_sources(roots: list[Path]) -> tuple[UnionSource, UnionSource, list[UnionSource], list[str]]:
    """(MP-20 val, MP-20 test, train sources in preference order, absent optional sources)."""
    _, mp20 = locate(DATASETS["mp_20"], roots)
    if "val" not in mp20 or "test" not in mp20:
        raise DataSourceError(
            f"mp_union needs the MP-20 val and test files; found {sorted(mp20)}; run `genms data download mp_20`"
        )
    train, absent = [], []
    if "train" in mp20:
        train.append(UnionSource("mp_20/train", mp20["train"], "mp_20"))
    else:
        absent.append("mp_20/train")
    for name in ("mp_cgcnn", "mpts_52"):
        try:
            _, files = locate(DATASETS[name], roots)
        except DataSourceError:
            absent.append(name)
            continue
        if name == "mp_cgcnn":
            train.append(UnionSource("mp_cgcnn", files["train"], "mp_cgcnn"))
        else:
            train += [UnionSource(f"mpts_52/{s}", files[s], "mpts_52") for s in ("val", "test", "train") if s in files]
    return (UnionSource("mp_20/val", mp20["val"], "mp_20"), UnionSource("mp_20/test", mp20["test"], "mp_20"),
            train, absent)


def formula_key(numbers: np.ndarray) -> tuple:
    """Reduced formula as ((Z, count / gcd), ...): equal keys <=> equal reduced formulae."""
    z, counts = np.unique(np.asarray(numbers), return_counts=True)
    g = int(np.gcd.reduce(counts))
    return tuple(zip(z.tolist(), (counts // g).tolist(), strict=True))


def formula_keys(arrays: CrystalArrays) -> list[tuple]:
    o = arrays.offsets
    return [formula_key(arrays.atomic_numbers[o[i]:o[i + 1]]) for i in range(len(arrays))]


def _spacegroup_task(task: tuple) -> int:
    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    os.environ.setdefault("SPGLIB_WARNING", "OFF")  # spglib's C-level chatter on stderr
    frac, numbers, lattice, symprec = task
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure(Lattice(lattice), numbers.tolist(), frac)
            return int(SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number())
    except Exception:  # spglib finds no symmetry dataset for a few odd cells
        return -1


def _structure_hash(arrays: CrystalArrays, i: int, o: np.ndarray) -> str:
    h = hashlib.sha1(arrays.lattice[i].astype(np.float32).tobytes())
    h.update(arrays.frac_coords[o[i]:o[i + 1]].astype(np.float32).tobytes())
    h.update(arrays.atomic_numbers[o[i]:o[i + 1]].astype(np.uint8).tobytes())
    return h.hexdigest()


def fill_spacegroups(arrays: CrystalArrays, ctx: PrepareContext) -> tuple[np.ndarray, int]:
    """Space group numbers: the given ones, else computed (cached on disk); NaN where spglib fails.

    Returns the numbers and how many were computed (not read from the cache).
    """
    given = arrays.targets.get(SG, np.full(len(arrays), np.nan)).astype(np.float64).copy()
    todo = np.flatnonzero(~np.isfinite(given))
    if not len(todo):
        return given, 0
    symprec = ctx.cfg.union_symprec
    cache_path = (ctx.parse_cache_dir / f"spacegroups_symprec{symprec:g}.json") if ctx.parse_cache_dir else None
    cache = _read_json(cache_path)
    o = arrays.offsets
    keys = {int(i): _structure_hash(arrays, int(i), o) for i in todo}
    missing = [i for i in todo.tolist() if keys[i] not in cache]
    tasks = ((arrays.frac_coords[o[i]:o[i + 1]].astype(np.float64), arrays.atomic_numbers[o[i]:o[i + 1]],
              arrays.lattice[i].astype(np.float64), symprec) for i in missing)
    for i, sg in zip(missing, map_with_progress(_spacegroup_task, tasks, len(missing), ctx.cfg.workers,
                                                ctx.cfg.chunksize, "space groups", ctx.cfg.progress), strict=True):
        cache[keys[i]] = sg
    if missing and cache_path is not None:
        _write_json(cache_path, cache)
    for i in todo.tolist():
        sg = cache[keys[i]]
        given[i] = sg if sg > 0 else np.nan
    return given, len(missing)


def _read_json(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("ignoring unreadable space-group cache %s", path)
        return {}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def prepare_union(spec: DatasetSpec, ctx: PrepareContext) -> list[SplitResult]:
    val_src, test_src, train_srcs, absent = union_sources(ctx.roots)
    max_atoms = ctx.max_atoms(spec)
    settings = {**ctx.cfg.parse_settings(), "max_atoms": max_atoms, "symprec": ctx.cfg.union_symprec,
                "cgcnn_min_formation_energy": ctx.cfg.cgcnn_min_formation_energy}
    entries = {s.label: source_entry(s.path) for s in [val_src, test_src, *train_srcs]}
    fps = {split: fingerprint({"dataset": spec.name, "split": split, "settings": settings,
                               "sources": [entries[k] | {"label": k} for k in sorted(entries)]})
           for split in spec.split_names}
    hits = [ctx.cached(spec.name, s, fp) for s, fp in fps.items()]
    if all(hits):
        return hits  # type: ignore[return-value]

    held_out, held_ids = {}, set()
    for split, src in (("val", val_src), ("test", test_src)):
        table, parsed, _ = src.load(ctx)
        held_ids.update(str(i) for i in table.ids if str(i))
        report = SkipReport()
        rows = select_rows(table, parsed, range(len(table)), (), max_atoms, report)
        report.check()
        held_out[split] = (assemble(table, parsed, rows, {}), report)
    test_arrays = held_out["test"][0]
    test_sg, _ = fill_spacegroups(test_arrays, ctx)
    test_pairs = set(zip(formula_keys(test_arrays), test_sg.tolist(), strict=True))
    test_formulae = {k for k, _ in test_pairs}

    parts, reports, masked = {}, {}, 0
    seen: set[str] = set()
    for src in train_srcs:
        table, parsed, _ = src.load(ctx)
        report = SkipReport()
        rows = select_rows(table, parsed, range(len(table)), (), max_atoms, report, seen=seen,
                           exclude_ids=held_ids, exclude_reason="val_test_id")
        arrays = assemble(table, parsed, rows, {})
        if src.format == "mp_cgcnn":
            fe = arrays.targets[FE]
            low = fe < ctx.cfg.cgcnn_min_formation_energy
            masked += int(low.sum())
            arrays.targets[FE] = np.where(low, np.nan, fe)
        parts[src.label], reports[src.label] = arrays, report

    computed = 0
    for label, arrays in list(parts.items()):
        sg, n_new = fill_spacegroups(arrays, ctx)
        computed += n_new
        keys = formula_keys(arrays)
        drop = np.array([k in test_formulae and ((k, s) in test_pairs or not np.isfinite(s))
                         for k, s in zip(keys, sg.tolist(), strict=True)], bool)
        for i in np.flatnonzero(drop):
            reports[label].kept -= 1
            reports[label].skip("test_formula_spacegroup", str(arrays.ids[i]),
                                f"space group {int(sg[i])}" if np.isfinite(sg[i]) else "space group unknown")
        reports[label].check()
        targets = dict(arrays.targets) | {SG: sg}
        parts[label] = CrystalArrays(arrays.frac_coords, arrays.atomic_numbers, arrays.lattice, arrays.n_atoms,
                                     arrays.ids, targets).subset(np.flatnonzero(~drop))

    totals = SkipReport()
    for rep in reports.values():
        totals.rows += rep.rows
        totals.kept += rep.kept
        totals.skipped.update(rep.skipped)
    union_meta = {
        "sources": {k: r.to_dict() for k, r in reports.items()},
        "totals": totals.to_dict(),
        "absent_sources": absent,
        "held_out_ids": len(held_ids),
        "test_formula_spacegroup_pairs": len(test_pairs),
        "spacegroups_computed": computed,
        "cgcnn_targets_masked": masked,
        "rule": RULE,
    }
    base = {"dataset": spec.name, "settings": settings, "sources": [entries[k] | {"label": k} for k in sorted(entries)],
            "source_paths": [str(s.path) for s in [val_src, test_src, *train_srcs]]}
    train = CrystalArrays.concatenate(list(parts.values()))
    results = [ctx.save(_with_meta(train, base | {"split": "train", "fingerprint": fps["train"],
                                                  "report": totals.to_dict(), "union": union_meta}),
                        spec.name, "train")]
    for split in ("val", "test"):
        arrays, report = held_out[split]
        if split == "test":
            arrays = _with_meta(arrays, {}, {SG: test_sg})
        meta = base | {"split": split, "fingerprint": fps[split], "report": report.to_dict(),
                       "union": {"rule": f"MP-20 {split} rows with <= {max_atoms} atoms"}}
        results.append(ctx.save(_with_meta(arrays, meta), spec.name, split))
    return results


def _with_meta(arrays: CrystalArrays, meta: dict, extra_targets: dict | None = None) -> CrystalArrays:
    targets = dict(arrays.targets) | (extra_targets or {})
    return CrystalArrays(arrays.frac_coords, arrays.atomic_numbers, arrays.lattice, arrays.n_atoms,
                         arrays.ids, targets, meta or dict(arrays.meta))
