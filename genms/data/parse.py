"""CIF text -> compact arrays, over a process pool, cached per source file.

:func:`parse_cif` turns one CIF into (frac_coords, atomic_numbers, lattice) through
``genms.crystal.convert.from_cif``, Niggli-reduces it (``niggli_reduce``, as DiffCSP does) and
puts the cell in a canonical orientation, or returns the reason it cannot.
:func:`parse_source` does that for every row of a :class:`~genms.data.sources.SourceTable`
over ``workers`` processes (``imap`` in chunks, with a tqdm bar) and caches the result in
``{parse_cache_dir}/{key}.npz`` keyed by the source's bytes and the parse settings, so the
MP union and a change of ``max_atoms`` reuse earlier work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genms.crystal.convert import CIFParseError, from_cif, niggli_reduce
from genms.crystal.structure import Crystal, lattice_from_params, lattice_to_params, wrap_frac
from genms.data.arrays import CrystalArrays
from genms.data.sources import SourceTable

log = logging.getLogger(__name__)

#: Bump when parsing changes meaning: every cached parse and prepared file is rebuilt.
PARSE_VERSION = 1
_MAX_MESSAGE = 160


def canonical_cell(crystal: Crystal) -> Crystal:
    """The same crystal with a right-handed cell in pymatgen's standard orientation.

    A left-handed basis (a, b, c) is replaced by (-a, -b, -c) with negated fractional
    coordinates (same lattice, same atoms); then the cell is rotated so that the matrix equals
    ``lattice_from_params(lattice_params)`` (fractional coordinates are unchanged by a rotation).
    """
    lattice, frac = crystal.lattice, crystal.frac_coords
    if np.linalg.det(lattice) < 0:
        lattice, frac = -lattice, wrap_frac(-frac)
    standard = lattice_from_params(lattice_to_params(lattice))
    if not np.all(np.isfinite(standard)) or abs(np.linalg.det(standard)) < 1e-6:
        raise ValueError("degenerate cell")
    return Crystal(frac, crystal.atomic_numbers, standard, crystal.properties)


def parse_cif(text: str, niggli: bool = True, canonical_orientation: bool = True):
    """One CIF -> ``("ok", frac, numbers, lattice)`` or ``(reason, message)``.

    Reasons: ``cif_parse_error``, ``disordered``, ``reduction_failed`` (see ``report.REASONS``).
    """
    if not text or not text.strip():
        return ("cif_parse_error", "empty CIF")
    try:
        crystal = from_cif(text)
    except CIFParseError as exc:
        msg = str(exc)
        reason = "disordered" if "partial occupanc" in msg else "cif_parse_error"
        return (reason, msg[:_MAX_MESSAGE])
    except Exception as exc:  # a CIF that breaks the parser in an unforeseen way is still a bad row
        return ("cif_parse_error", f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE])
    if crystal.n_atoms == 0:
        return ("cif_parse_error", "no atoms")
    try:
        if niggli:
            crystal = niggli_reduce(crystal)
        if canonical_orientation:
            crystal = canonical_cell(crystal)
    except Exception as exc:
        return ("reduction_failed", f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE])
    return ("ok", crystal.frac_coords.astype(np.float32), crystal.atomic_numbers.astype(np.uint8),
            crystal.lattice.astype(np.float32))


def _parse_task(task: tuple[str, bool, bool]):
    return parse_cif(*task)


def map_with_progress(fn: Callable, tasks: Iterable, total: int, workers: int, chunksize: int,
                      desc: str, progress: bool) -> Iterator:
    """``map(fn, tasks)`` in order, over ``workers`` spawned processes (0 or 1 task: in-process)."""
    bar = tqdm(total=total, desc=desc, disable=not progress, mininterval=1.0, unit="row")
    try:
        if workers <= 0 or total <= 1:
            for t in tasks:
                yield fn(t)
                bar.update()
            return
        # spawn: safe even when the parent has started threads (JAX, BLAS).
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers) as pool:
            for result in pool.imap(fn, tasks, chunksize=max(1, chunksize)):
                yield result
                bar.update()
    finally:
        bar.close()


@dataclass
class ParsedSource:
    """Parsed rows of one source: ``arrays`` holds the rows that parsed, in row order;
    ``rows[k]`` is the source row of entry ``k``; ``failures`` maps a row to (reason, message)."""

    arrays: CrystalArrays
    rows: np.ndarray
    failures: dict[int, tuple[str, str]]

    def index_of_rows(self, n_rows: int) -> np.ndarray:
        """int64[n_rows]: the entry of each source row in ``arrays`` (-1 where it failed)."""
        index = np.full(n_rows, -1, np.int64)
        index[self.rows] = np.arange(len(self.rows))
        return index


def parse_key(source_sha: str, settings: dict) -> str:
    payload = json.dumps(
        {"v": PARSE_VERSION, "source": source_sha, "settings": settings}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def parse_source(table: SourceTable, source_sha: str, settings: dict, cache_dir: Path | None,
                 workers: int = 2, chunksize: int = 64, progress: bool = True) -> ParsedSource:
    """Parse every CIF of ``table`` (cached under ``cache_dir`` when it is given)."""
    key = parse_key(source_sha, settings)
    path = cache_dir / f"{key[:32]}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            arrays = CrystalArrays.load(path)
            if arrays.meta.get("parse_key") == key:
                failures = {int(r): (reason, msg) for r, reason, msg in arrays.meta["failures"]}
                log.info("parsed %s: reusing %s", table.name, path)
                return ParsedSource(arrays, arrays.ids.astype(np.int64), failures)
        except Exception as exc:  # a truncated cache file is rebuilt, not trusted
            log.warning("ignoring unreadable parse cache %s (%s)", path, exc)
    tasks = ((text, settings["niggli"], settings["canonical_orientation"]) for text in table.cifs)
    crystals, rows, failures = [], [], {}
    results = map_with_progress(
        _parse_task, tasks, len(table), workers, chunksize, f"parse {table.name}", progress
    )
    for row, result in enumerate(results):
        if result[0] == "ok":
            crystals.append(Crystal(result[1], result[2], result[3]))
            rows.append(row)
        else:
            failures[row] = (result[0], result[1])
    meta = {"parse_key": key, "source": table.name, "settings": settings,
            "failures": [[r, reason, msg] for r, (reason, msg) in sorted(failures.items())]}
    arrays = CrystalArrays.from_crystals(crystals, [str(r) for r in rows], meta=meta)
    if path is not None:
        arrays.save(path)
    return ParsedSource(arrays, np.asarray(rows, np.int64), failures)
