"""The MP union's cell-level test rules: reduced formulae, space groups and structure matches.

Space groups are computed with pymatgen's ``SpacegroupAnalyzer(symprec=data.union_symprec)``
where a source does not give them; :func:`match_test_structures` runs pymatgen's
``StructureMatcher`` with the CSP benchmark's tolerances (``genms.evaluate.matching.DEFAULT_MATCH``)
between candidate cells and the test entries of the same reduced formula, each pair under
``data.union_match_timeout_s``. Both kinds of result are cached on disk in the parse cache
(keyed by the cells' bytes), so a re-run only computes new cells and pairs.
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
from genms.data.parse import map_with_progress
from genms.data.prepare import PrepareContext
from genms.evaluate.matching import DEFAULT_MATCH, MatchConfig, rms_distance

log = logging.getLogger(__name__)

SG = "spacegroup_number"
#: Train cells per task sent to a worker by the structure-match rule (each task is slow).
MATCH_CHUNKSIZE = 2
#: The structure-match cache is written after this many tasks, so an interrupted run resumes.
MATCH_FLUSH_EVERY = 500
#: Cached value of a comparison that ran past the time limit (counted as no match).
TIMEOUT = "timeout"


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
                          ctx: PrepareContext, title: str = "test") -> StructureMatches:
    """Compare every cell of ``parts`` with each ``test`` entry of the same reduced formula
    (``title`` names the test set in the progress bar).

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
    computed = _compare_missing(parts, test, candidates, test_hash, cache, cache_path, config,
                                ctx, f"structure matches ({title})")

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
    desc: str,
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
                                desc, ctx.cfg.progress)
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

