"""The leak-free Materials Project training union (dataset ``mp_union``) for the CSP benchmark.

The official MP-20 train split is not available in full, so the training set is assembled
from every Materials Project structure with at most ``max_atoms`` (52) atoms in the data folder:

* train = MP-20 train rows, then mp_cgcnn_36k, then MPTS-52 (val, test and train when present),
  each row parsed like every other dataset and kept when it has <= ``max_atoms`` (52) atoms;
  minus every material id in the MP-20 val or test *files*;
  de-duplicated by material id (the first source in that order wins, so the MP-20 copy is
  preferred); minus every structure whose reduced formula AND space group equal those of a
  kept MP-20 test entry (space groups: MP-20's ``spacegroup.number``, else computed with
  pymatgen's ``SpacegroupAnalyzer(symprec=data.union_symprec)``; computed values are cached;
  a structure whose space group cannot be computed is removed when its formula matches);
  minus every structure that pymatgen's ``StructureMatcher`` with the CSP benchmark's tolerances
  (``genms.evaluate.matching.DEFAULT_MATCH``) matches to a kept MP-20 test entry of the same
  reduced formula (each pair under ``data.union_match_timeout_s``; a timeout is no match;
  results are cached on disk);
* val = the MP-20 val rows, test = the MP-20 test rows (all have <= 20 atoms, as in ``mp_20``).

Rows are never dropped for a missing target here: ``formation_energy_per_atom`` is NaN where
a source lacks it, and mp_cgcnn energies below ``data.cgcnn_min_formation_energy`` are set
to NaN (the structure is kept). Counts per source and per rule go to ``meta["union"]``, and so
do the MP-20 test material ids each of the two test rules hit
(``meta["union"]["near_duplicate_test_ids"]``, see :func:`near_duplicate_test_ids`).
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
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

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
from genms.evaluate.matching import DEFAULT_MATCH, MatchConfig, rms_distance

log = logging.getLogger(__name__)

RULE = (
    "train = MP structures with <= max_atoms atoms from MP-20 train, mp_cgcnn_36k and MPTS-52, "
    "minus material ids in the MP-20 val/test files, de-duplicated by material id "
    "(MP-20 > mp_cgcnn > MPTS-52), "
    "minus structures whose reduced formula and space group equal an MP-20 test entry's, "
    f"minus structures that StructureMatcher (stol {DEFAULT_MATCH.stol:g}, "
    f"ltol {DEFAULT_MATCH.ltol:g}, angle_tol {DEFAULT_MATCH.angle_tol:g}) matches to an MP-20 "
    "test entry of the same reduced formula; "
    "val/test = MP-20 val/test"
)
SG = "spacegroup_number"
FE = "formation_energy_per_atom"
#: Train cells per task sent to a worker by the structure-match rule (each task is slow).
MATCH_CHUNKSIZE = 2
#: The structure-match cache is written after this many tasks, so an interrupted run resumes.
MATCH_FLUSH_EVERY = 500
#: Cached value of a comparison that ran past the time limit (counted as no match).
TIMEOUT = "timeout"


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


def union_sources(
    roots: list[Path],
) -> tuple[UnionSource, UnionSource, list[UnionSource], list[str]]:
    """(MP-20 val, MP-20 test, train sources in preference order, absent optional sources)."""
    _, mp20 = locate(DATASETS["mp_20"], roots)
    if "val" not in mp20 or "test" not in mp20:
        raise DataSourceError(
            f"mp_union needs the MP-20 val and test files; found {sorted(mp20)}; "
            "run `genms data download mp_20`"
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
            train += [
                UnionSource(f"mpts_52/{s}", files[s], "mpts_52")
                for s in ("val", "test", "train")
                if s in files
            ]
    return (
        UnionSource("mp_20/val", mp20["val"], "mp_20"),
        UnionSource("mp_20/test", mp20["test"], "mp_20"),
        train,
        absent,
    )


def formula_key(numbers: np.ndarray) -> tuple:
    """Reduced formula as ((Z, count / gcd), ...): equal keys <=> equal reduced formulae."""
    z, counts = np.unique(np.asarray(numbers), return_counts=True)
    g = int(np.gcd.reduce(counts))
    return tuple(zip(z.tolist(), (counts // g).tolist(), strict=True))


def formula_keys(arrays: CrystalArrays) -> list[tuple]:
    o = arrays.offsets
    return [formula_key(arrays.atomic_numbers[o[i]:o[i + 1]]) for i in range(len(arrays))]


#: One cell for a worker: (frac float64[n, 3], atomic numbers[n], lattice float64[3, 3]).
Cell = tuple[np.ndarray, np.ndarray, np.ndarray]


def _cell(arrays: CrystalArrays, i: int, o: np.ndarray) -> Cell:
    return (
        arrays.frac_coords[o[i] : o[i + 1]].astype(np.float64),
        arrays.atomic_numbers[o[i] : o[i + 1]],
        arrays.lattice[i].astype(np.float64),
    )


def _structure(cell: Cell) -> Structure:
    frac, numbers, lattice = cell
    return Structure(Lattice(lattice), numbers.tolist(), frac)


def _spacegroup_task(task: tuple[Cell, float]) -> int:
    os.environ.setdefault("SPGLIB_WARNING", "OFF")  # spglib's C-level chatter on stderr
    cell, symprec = task
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(
                SpacegroupAnalyzer(_structure(cell), symprec=symprec).get_space_group_number()
            )
    except Exception:  # spglib finds no symmetry dataset for a few odd cells
        return -1


def _match_task(task: tuple[Cell, list[Cell], MatchConfig]) -> list[float | str | None]:
    """One train cell against test cells: the RMS of each match, ``None`` (no match) or
    ``TIMEOUT``."""
    os.environ.setdefault("SPGLIB_WARNING", "OFF")
    train_cell, test_cells, config = task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = _structure(train_cell)
        results = [rms_distance(train, _structure(c), config) for c in test_cells]
    return [TIMEOUT if r.timed_out else r.rms for r in results]


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
    cache_path = _cache_file(ctx, f"spacegroups_symprec{symprec:g}.json")
    cache = _read_json(cache_path)
    o = arrays.offsets
    keys = {int(i): _structure_hash(arrays, int(i), o) for i in todo}
    missing = [i for i in todo.tolist() if keys[i] not in cache]
    tasks = ((_cell(arrays, i, o), symprec) for i in missing)
    for i, sg in zip(
        missing,
        map_with_progress(
            _spacegroup_task,
            tasks,
            len(missing),
            ctx.cfg.workers,
            ctx.cfg.chunksize,
            "space groups",
            ctx.cfg.progress,
        ),
        strict=True,
    ):
        cache[keys[i]] = sg
    if missing and cache_path is not None:
        _write_json(cache_path, cache)
    for i in todo.tolist():
        sg = cache[keys[i]]
        given[i] = sg if sg > 0 else np.nan
    return given, len(missing)


def match_config(ctx: PrepareContext) -> MatchConfig:
    """The CSP benchmark's StructureMatcher tolerances with the union's per-pair time limit."""
    return MatchConfig(DEFAULT_MATCH.stol, DEFAULT_MATCH.ltol, DEFAULT_MATCH.angle_tol,
                       ctx.cfg.union_match_timeout_s)


def match_settings(config: MatchConfig) -> dict:
    """The match settings that change the result (part of the union's fingerprint)."""
    return {"stol": config.stol, "ltol": config.ltol, "angle_tol": config.angle_tol,
            "timeout_s": config.timeout_s}


@dataclass
class StructureMatches:
    """The structure-match rule's outcome: per source, each cell's matched test entry (-1: none)
    and the RMS of that match (NaN: none), every test entry that some cell matched (not only the
    best ones), plus counts for ``meta["union"]``."""

    test_index: dict[str, np.ndarray]
    rms: dict[str, np.ndarray]
    stats: dict
    tests_matched: set[int]


def match_test_structures(parts: dict[str, CrystalArrays], test: CrystalArrays,
                          ctx: PrepareContext) -> StructureMatches:
    """Compare every cell of ``parts`` with each ``test`` entry of the same reduced formula.

    A cell matches when ``StructureMatcher.get_rms_dist(cell, test)`` finds a mapping, as in
    the CSP benchmark; the best (smallest RMS) test entry is kept. Results are cached per pair
    of structures in the parse cache, so a re-run only compares new pairs.
    """
    config = match_config(ctx)
    to = test.offsets
    test_hash = [_structure_hash(test, j, to) for j in range(len(test))]
    by_formula: dict[tuple, list[int]] = {}
    for j, key in enumerate(formula_keys(test)):
        by_formula.setdefault(key, []).append(j)
    candidates = [(label, i, by_formula[key], _structure_hash(arrays, i, arrays.offsets))
                  for label, arrays in parts.items() for i, key in enumerate(formula_keys(arrays))
                  if key in by_formula]
    cache_path = _cache_file(ctx, "structure_matches_" + "_".join(
        f"{k}{v:g}" for k, v in match_settings(config).items()) + ".json")
    cache = _read_json(cache_path)
    computed = _compare_missing(parts, test, candidates, test_hash, cache, cache_path, config, ctx)

    test_index = {label: np.full(len(a), -1, np.int64) for label, a in parts.items()}
    rms = {label: np.full(len(a), np.nan) for label, a in parts.items()}
    values = {(label, i): [(cache[f"{h}:{test_hash[j]}"], j) for j in partners]
              for label, i, partners, h in candidates}
    for (label, i), pairs in values.items():
        matched = [(v, j) for v, j in pairs if isinstance(v, float)]
        if matched:
            rms[label][i], test_index[label][i] = min(matched)
    flat = [v for pairs in values.values() for v, _ in pairs]
    tests_matched = {j for pairs in values.values() for v, j in pairs if isinstance(v, float)}
    stats = {
        "settings": match_settings(config),
        "cells_compared": len(candidates),
        "pairs": len(flat),
        "pairs_computed": computed,
        "pairs_matched": sum(isinstance(v, float) for v in flat),
        "pairs_timed_out": sum(v == TIMEOUT for v in flat),
        "cells_matched": int(sum((t >= 0).sum() for t in test_index.values())),
    }
    return StructureMatches(test_index, rms, stats, tests_matched)


def _compare_missing(
    parts: dict[str, CrystalArrays],
    test: CrystalArrays,
    candidates: list[tuple],
    test_hash: list[str],
    cache: dict,
    cache_path: Path | None,
    config: MatchConfig,
    ctx: PrepareContext,
) -> int:
    """Run the comparisons absent from ``cache`` (filled in place, saved as it goes); returns
    how many."""
    todo = []
    for label, i, partners, h in candidates:
        missing = [j for j in partners if f"{h}:{test_hash[j]}" not in cache]
        if missing:
            todo.append((label, i, missing, h))
    to = test.offsets
    tasks = (
        (
            _cell(parts[label], i, parts[label].offsets),
            [_cell(test, j, to) for j in missing],
            config,
        )
        for label, i, missing, _ in todo
    )
    results = map_with_progress(_match_task, tasks, len(todo), ctx.cfg.workers, MATCH_CHUNKSIZE,
                                "structure matches", ctx.cfg.progress)
    for n, ((_, _, missing, h), values) in enumerate(zip(todo, results, strict=True), 1):
        cache.update({f"{h}:{test_hash[j]}": v for j, v in zip(missing, values, strict=True)})
        if cache_path is not None and n % MATCH_FLUSH_EVERY == 0:
            _write_json(cache_path, cache)
    if todo and cache_path is not None:
        _write_json(cache_path, cache)
    return sum(len(missing) for _, _, missing, _ in todo)


def _cache_file(ctx: PrepareContext, name: str) -> Path | None:
    return ctx.parse_cache_dir / name if ctx.parse_cache_dir else None


def _read_json(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("ignoring unreadable cache %s", path)
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
    settings = {
        **ctx.cfg.parse_settings(),
        "max_atoms": max_atoms,
        "symprec": ctx.cfg.union_symprec,
        "cgcnn_min_formation_energy": ctx.cfg.cgcnn_min_formation_energy,
        "test_structure_match": match_settings(match_config(ctx)),
    }
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
    test_by_pair: dict[tuple, list[int]] = {}
    for j, pair in enumerate(zip(formula_keys(test_arrays), test_sg.tolist(), strict=True)):
        test_by_pair.setdefault(pair, []).append(j)
    test_formulae = {k for k, _ in test_by_pair}

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
    spacegroup_hits: set[int] = set()  # test entries whose (formula, space group) a drop shares
    for label, arrays in list(parts.items()):
        sg, n_new = fill_spacegroups(arrays, ctx)
        computed += n_new
        pairs = list(zip(formula_keys(arrays), sg.tolist(), strict=True))
        drop = np.array([k in test_formulae and ((k, s) in test_by_pair or not np.isfinite(s))
                         for k, s in pairs], bool)
        spacegroup_hits.update(j for pair in pairs for j in test_by_pair.get(pair, ()))
        why = {i: f"space group {int(sg[i])}" if np.isfinite(sg[i]) else "space group unknown"
               for i in np.flatnonzero(drop).tolist()}
        parts[label] = _drop_rows(_with_meta(arrays, dict(arrays.meta), {SG: sg}), reports[label],
                                  "test_formula_spacegroup", why)

    matches = match_test_structures(parts, test_arrays, ctx)
    for label, arrays in list(parts.items()):
        index, rms = matches.test_index[label], matches.rms[label]
        why = {i: f"matches test {test_arrays.ids[index[i]]} (rms {rms[i]:.3f})"
               for i in np.flatnonzero(index >= 0).tolist()}
        parts[label] = _drop_rows(arrays, reports[label], "test_structure_match", why)
    log.info("MP union: %d cells dropped for matching an MP-20 test structure (%d pairs compared)",
             matches.stats["cells_matched"], matches.stats["pairs"])

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
        "test_formula_spacegroup_pairs": len(test_by_pair),
        "spacegroups_computed": computed,
        "test_structure_match": matches.stats,
        "near_duplicate_test_ids": near_duplicate_test_ids(
            test_arrays, spacegroup_hits, matches.tests_matched),
        "cgcnn_targets_masked": masked,
        "rule": RULE,
    }
    base = {
        "dataset": spec.name,
        "settings": settings,
        "sources": [entries[k] | {"label": k} for k in sorted(entries)],
        "source_paths": [str(s.path) for s in [val_src, test_src, *train_srcs]],
    }
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


def near_duplicate_test_ids(test: CrystalArrays, spacegroup_hits: set[int],
                            structure_hits: set[int]) -> dict[str, list[str]]:
    """Per test rule, the sorted material ids of the test entries it hit.

    ``test_formula_spacegroup``: every test entry whose reduced formula and space group equal
    those of a dropped candidate (a candidate dropped only because its space group could not be
    computed hits no particular entry and adds none); ``test_structure_match``: every test entry
    that ``StructureMatcher`` matched to a candidate. Each id names a test crystal that the
    Materials Project sources hold under another id.
    """
    return {
        rule: sorted({str(test.ids[j]) for j in hits})
        for rule, hits in (("test_formula_spacegroup", spacegroup_hits),
                           ("test_structure_match", structure_hits))
    }


def _drop_rows(arrays: CrystalArrays, report: SkipReport, reason: str,
               drops: dict[int, str]) -> CrystalArrays:
    """``arrays`` without the rows in ``drops`` (row -> message), each counted in ``report``."""
    for i, message in drops.items():
        report.kept -= 1
        report.skip(reason, str(arrays.ids[i]), message)
    report.check()
    return arrays.subset([i for i in range(len(arrays)) if i not in drops])


def _with_meta(
    arrays: CrystalArrays, meta: dict, extra_targets: dict | None = None
) -> CrystalArrays:
    targets = dict(arrays.targets) | (extra_targets or {})
    return CrystalArrays(arrays.frac_coords, arrays.atomic_numbers, arrays.lattice, arrays.n_atoms,
                         arrays.ids, targets, meta or dict(arrays.meta))
