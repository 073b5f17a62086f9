"""CIF text -> compact arrays, over a process pool, cached per source file.

:func:`parse_cif` turns one CIF into (frac_coords, atomic_numbers, lattice) through
``genms.crystal.convert.from_cif``, Niggli-reduces it (``niggli_reduce``, as DiffCSP does) and
puts the cell in a canonical orientation, or returns the reason it cannot. A CIF is also
refused when its cell is not physical (a lattice length or angle that is not positive, a
length above :data:`MAX_LATTICE_LENGTH_ANG`, a volume per atom above
:data:`MAX_VOLUME_PER_ATOM_ANG3`), when two atoms are closer than :data:`MIN_DISTANCE_ANG`, or
when its atoms disagree with its own ``_chemical_formula_sum`` (a truncated CIF).
:func:`parse_source` does that for every row of a :class:`~genms.data.sources.SourceTable`
over ``workers`` processes (``imap`` in chunks, with a tqdm bar) and caches the result in
``{parse_cache_dir}/{key}.npz`` keyed by the source's bytes and the parse settings, so the
MP union and a change of ``max_atoms`` reuse earlier work.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genms.crystal.composition import FormulaError, composition_from_numbers, parse_formula
from genms.crystal.convert import CIFParseError, from_cif, niggli_reduce
from genms.crystal.structure import Crystal, lattice_from_params, lattice_to_params, wrap_frac
from genms.data.arrays import CrystalArrays
from genms.data.sources import SourceTable

log = logging.getLogger(__name__)

#: Bump when parsing changes meaning: every cached parse and prepared file is rebuilt.
PARSE_VERSION = 2
_MAX_MESSAGE = 160

#: Two atoms closer than this (Å) are overlapping: the row is skipped (``overlapping_atoms``).
MIN_DISTANCE_ANG = 0.5
#: A lattice length above this (Å) is not a crystal's (``absurd_cell``).
MAX_LATTICE_LENGTH_ANG = 1000.0
#: A volume per atom above this (Å³) is not a crystal's (``absurd_cell``; MP's largest is ~900).
MAX_VOLUME_PER_ATOM_ANG3 = 10_000.0

_CELL_RE = re.compile(
    r"^[ \t]*_cell_(length_[abc]|angle_alpha|angle_beta|angle_gamma)[ \t]+(\S+)", re.M
)
_FORMULA_SUM_RE = re.compile(r"^[ \t]*_chemical_formula_sum[ \t]+(\S.*?)[ \t]*$", re.M)


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


def cell_parameter_problem(text: str) -> str | None:
    """Why the CIF's written cell parameters are unusable (a length that is not positive, an
    angle outside (0, 180) degrees, a value that is not a number), or None."""
    for m in _CELL_RE.finditer(text):
        name, raw = m.group(1), m.group(2)
        try:
            value = float(re.sub(r"\(\d+\)$", "", raw.strip("'\"")))
        except ValueError:
            return f"_cell_{name} {raw!r} is not a number"
        if name.startswith("length") and not (math.isfinite(value) and value > 0):
            return f"_cell_{name} {raw} is not a positive length"
        if name.startswith("angle") and not (0 < value < 180):
            return f"_cell_{name} {raw} is not an angle in (0, 180) degrees"
    return None


def same_proportions(a, b, tol: float = 1e-4) -> bool:
    """Two pymatgen Compositions with the same elements in the same proportions."""
    if {e.symbol for e in a.elements} != {e.symbol for e in b.elements}:
        return False
    return all(abs(a.get_atomic_fraction(e) - b.get_atomic_fraction(e)) <= tol for e in a.elements)


def formula_sum_problem(text: str, atomic_numbers: np.ndarray) -> str | None:
    """Why the parsed atoms disagree with the CIF's ``_chemical_formula_sum`` (other
    proportions, or fewer atoms than it lists: a truncated atom loop), or None. A formula sum
    that cannot be read is not judged."""
    m = _FORMULA_SUM_RE.search(text)
    if m is None:
        return None
    raw = m.group(1).strip().strip("'\"").strip()
    try:
        header = parse_formula(raw)
    except (FormulaError, ValueError):
        return None
    parsed = composition_from_numbers(atomic_numbers)
    if not same_proportions(parsed, header) or parsed.num_atoms < header.num_atoms - 1e-6:
        return (f"the atoms read ({parsed.formula.replace(' ', '')}) disagree with "
                f"_chemical_formula_sum {raw!r}")
    return None


def closest_distance(frac_coords: np.ndarray, lattice: np.ndarray, cutoff: float) -> float:
    """The smallest interatomic distance (Å, periodic images included) when it is below
    ``cutoff``; otherwise a value >= ``cutoff``. Memory stays bounded for any atom count."""
    n = len(frac_coords)
    if n == 0:
        return math.inf
    lattice = np.asarray(lattice, np.float64)
    heights = 1.0 / np.linalg.norm(np.linalg.inv(lattice).T, axis=1)
    reach = np.minimum(np.ceil(cutoff / heights).astype(int), 6)
    shifts = np.array(list(itertools.product(*(range(-k, k + 1) for k in reach))), np.float64)
    zero = int(np.flatnonzero(np.all(shifts == 0, axis=1))[0])
    cart = (np.asarray(frac_coords, np.float64) % 1.0) @ lattice
    cart_shifts = shifts @ lattice
    step = max(1, 2_000_000 // (n * len(shifts)))
    best = math.inf
    for start in range(0, n, step):
        rows = np.arange(start, min(start + step, n))
        d = np.linalg.norm(
            cart[rows, None, None, :] - cart[None, :, None, :] + cart_shifts[None, None], axis=-1
        )
        d[np.arange(len(rows)), rows, zero] = np.inf  # an atom and itself
        best = min(best, float(d.min()))
    return best


def parse_cif(text: str, niggli: bool = True, canonical_orientation: bool = True):
    """One CIF -> ``("ok", frac, numbers, lattice)`` or ``(reason, message)``.

    Reasons: ``cif_parse_error``, ``disordered``, ``nonpositive_cell``, ``truncated_cif``,
    ``absurd_cell``, ``reduction_failed``, ``overlapping_atoms`` (see ``report.REASONS``).
    """
    if not text or not text.strip():
        return ("cif_parse_error", "empty CIF")
    problem = cell_parameter_problem(text)
    if problem:
        return ("nonpositive_cell", problem[:_MAX_MESSAGE])
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
    problem = formula_sum_problem(text, crystal.atomic_numbers)
    if problem:
        return ("truncated_cif", problem[:_MAX_MESSAGE])
    longest = float(np.linalg.norm(crystal.lattice, axis=1).max())
    volume_per_atom = abs(float(np.linalg.det(crystal.lattice))) / crystal.n_atoms
    if not math.isfinite(longest) or longest > MAX_LATTICE_LENGTH_ANG:
        return ("absurd_cell", f"lattice length {longest:.4g} Å > {MAX_LATTICE_LENGTH_ANG:g} Å")
    if not math.isfinite(volume_per_atom) or volume_per_atom > MAX_VOLUME_PER_ATOM_ANG3:
        return (
            "absurd_cell",
            f"volume per atom {volume_per_atom:.4g} Å³ > {MAX_VOLUME_PER_ATOM_ANG3:g} Å³",
        )
    try:
        if niggli:
            crystal = niggli_reduce(crystal)
        if canonical_orientation:
            crystal = canonical_cell(crystal)
    except Exception as exc:
        return ("reduction_failed", f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE])
    closest = closest_distance(crystal.frac_coords, crystal.lattice, MIN_DISTANCE_ANG)
    if closest < MIN_DISTANCE_ANG:
        return ("overlapping_atoms", f"two atoms {closest:.3g} Å apart (< {MIN_DISTANCE_ANG} Å)")
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
