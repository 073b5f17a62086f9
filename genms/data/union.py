"""The leak-free Materials Project training union (dataset ``mp_union``) for the CSP benchmark.

The official MP-20 train split is not available in full, so the training set is assembled
from every Materials Project structure with at most ``max_atoms`` (52) atoms in the data folder,
kept free of the benchmark test splits named in ``data.union_holdout`` (MP-20 test, the union's
own test split, and by default MPTS-52 test; :mod:`genms.data.holdout`):

* train = MP-20 train rows, then mp_cgcnn_36k, then MPTS-52 (val, test and train when present,
  except a held-out file), each row parsed like every other dataset and kept when it has
  <= ``max_atoms`` (52) atoms;
  minus every material id in the MP-20 val file or a held-out file;
  de-duplicated by material id (the first source in that order wins, so the MP-20 copy is
  preferred); minus every structure whose reduced formula AND space group equal those of an
  entry of a held-out split (space groups: MP-20's ``spacegroup.number``, else computed with
  pymatgen's ``SpacegroupAnalyzer(symprec=data.union_symprec)``; computed values are cached;
  a structure whose space group cannot be computed is removed when its formula matches);
  minus every structure that pymatgen's ``StructureMatcher`` with the CSP benchmark's tolerances
  (``genms.evaluate.matching.DEFAULT_MATCH``) matches to an entry of a held-out split of the
  same reduced formula (each pair under ``data.union_match_timeout_s``; a timeout is no match;
  results are cached on disk; :mod:`genms.data.union_match`);
* val = the MP-20 val rows, test = the MP-20 test rows (all have <= 20 atoms, as in ``mp_20``).

A held-out split's entries are those with at most ``max(max_atoms, its dataset's max_atoms)``
atoms (MP-20 20, MPTS-52 52): a smaller union still stays free of every entry the benchmark
evaluates. A candidate that several splits' rules hit is counted under the first split in the
fixed order of ``genms.data.config.UNION_HOLDOUTS`` (MP-20 test first); each split's near
duplicates are found over the same candidates.

Rows are never dropped for a missing target here: ``formation_energy_per_atom`` is NaN where
a source lacks it, and mp_cgcnn energies below ``data.cgcnn_min_formation_energy`` are set
to NaN (the structure is kept). Counts per source and per rule go to ``meta["union"]``, and so
do the test material ids each of the two test rules hit, per held-out split
(``meta["union"]["near_duplicate_test_ids"]`` for MP-20 test,
``meta["union"]["mpts_52_near_duplicate_test_ids"]`` for MPTS-52 test; see
:func:`genms.data.holdout.near_duplicate_test_ids`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genms.data.arrays import CrystalArrays
from genms.data.holdout import (
    HOLDOUTS,
    HeldOutSet,
    HoldOut,
    near_duplicate_test_ids,
    selected_holdouts,
)
from genms.data.parse import ParsedSource
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
from genms.data.union_match import (
    SG,
    StructureMatches,
    fill_spacegroups,
    formula_keys,
    match_config,
    match_settings,
    match_test_structures,
)
from genms.evaluate.matching import DEFAULT_MATCH

log = logging.getLogger(__name__)

FE = "formation_energy_per_atom"
#: MP-20 val ids (the union's val split) are held out under MP-20 test's reason.
VAL_ID_REASON = HOLDOUTS["mp_20_test"].id_reason


def rule_text(holdouts: list[HoldOut]) -> str:
    """The union's rule in one sentence (``meta["union"]["rule"]``)."""
    tests = " or ".join(h.title for h in holdouts)
    files = " and ".join(["MP-20 val/test"] + [h.title for h in holdouts if h.prefix])
    return (
        "train = MP structures with <= max_atoms atoms from MP-20 train, mp_cgcnn_36k and "
        f"MPTS-52, minus material ids in the {files} files, de-duplicated by material id "
        "(MP-20 > mp_cgcnn > MPTS-52), "
        f"minus structures whose reduced formula and space group equal an {tests} entry's, "
        f"minus structures that StructureMatcher (stol {DEFAULT_MATCH.stol:g}, "
        f"ltol {DEFAULT_MATCH.ltol:g}, angle_tol {DEFAULT_MATCH.angle_tol:g}) matches to an "
        f"{tests} entry of the same reduced formula; val/test = MP-20 val/test"
    )


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


@dataclass
class UnionInputs:
    """The union's files: MP-20 val (the val split), the file of each held-out split (by
    name; ``mp_20_test`` is the test split), the candidate sources in preference order, and
    the optional candidate sources that are absent."""

    val: UnionSource
    tests: dict[str, UnionSource]
    train: list[UnionSource]
    absent: list[str]

    def all(self) -> list[UnionSource]:
        return [self.val, *self.tests.values(), *self.train]


def union_sources(roots: list[Path], holdouts: list[HoldOut]) -> UnionInputs:
    """Find the union's files; a held-out split whose file is absent is an error."""
    _, mp20 = locate(DATASETS["mp_20"], roots)
    if "val" not in mp20 or "test" not in mp20:
        raise DataSourceError(
            f"mp_union needs the MP-20 val and test files; found {sorted(mp20)}; "
            "run `genms data download mp_20`"
        )
    files, absent = {"mp_20": mp20}, []
    for name in ("mp_cgcnn", "mpts_52"):
        try:
            _, files[name] = locate(DATASETS[name], roots)
        except DataSourceError:
            absent.append(name)
    tests = {}
    for h in holdouts:
        path = files.get(h.dataset, {}).get(h.split)
        if path is None:
            raise DataSourceError(
                f"data.union_holdout holds out {h.title}, but no {h.dataset} {h.split} file was "
                f"found; run `genms data download {h.dataset}`, or leave {h.name} out of "
                "data.union_holdout (the union may then hold its entries)"
            )
        tests[h.name] = UnionSource(f"{h.dataset}/{h.split}", path, DATASETS[h.dataset].format)
    held_files = {s.path for s in tests.values()}
    train = []
    if "train" in mp20:
        train.append(UnionSource("mp_20/train", mp20["train"], "mp_20"))
    else:
        absent.append("mp_20/train")
    if "mp_cgcnn" in files:
        train.append(UnionSource("mp_cgcnn", files["mp_cgcnn"]["train"], "mp_cgcnn"))
    if "mpts_52" in files:
        train += [UnionSource(f"mpts_52/{s}", files["mpts_52"][s], "mpts_52")
                  for s in ("val", "test", "train")
                  if s in files["mpts_52"] and files["mpts_52"][s] not in held_files]
    return UnionInputs(UnionSource("mp_20/val", mp20["val"], "mp_20"), tests, train, absent)


@dataclass
class _Read:
    """MP-20 val or a held-out test file as read: every material id in it, and its rows with at
    most the cap's atoms."""

    ids: set[str]
    arrays: CrystalArrays
    report: SkipReport


def _read(src: UnionSource, ctx: PrepareContext, max_atoms: int) -> _Read:
    table, parsed, _ = src.load(ctx)
    report = SkipReport()
    rows = select_rows(table, parsed, range(len(table)), (), max_atoms, report)
    report.check()
    return _Read({str(i) for i in table.ids if str(i)}, assemble(table, parsed, rows, {}), report)


def prepare_union(spec: DatasetSpec, ctx: PrepareContext) -> list[SplitResult]:
    holdouts = selected_holdouts(ctx.cfg.union_holdout)
    inputs = union_sources(ctx.roots, holdouts)
    max_atoms = ctx.max_atoms(spec)
    settings = {
        **ctx.cfg.parse_settings(),
        "max_atoms": max_atoms,
        "symprec": ctx.cfg.union_symprec,
        "cgcnn_min_formation_energy": ctx.cfg.cgcnn_min_formation_energy,
        "test_structure_match": match_settings(match_config(ctx)),
        "union_holdout": [h.name for h in holdouts],
    }
    entries = {s.label: source_entry(s.path) for s in inputs.all()}
    fps = {split: fingerprint({"dataset": spec.name, "split": split, "settings": settings,
                               "sources": [entries[k] | {"label": k} for k in sorted(entries)]})
           for split in spec.split_names}
    hits = [ctx.cached(spec.name, s, fp) for s, fp in fps.items()]
    if all(hits):
        return hits  # type: ignore[return-value]

    val = _read(inputs.val, ctx, max_atoms)
    reads = {h.name: _read(inputs.tests[h.name], ctx,
                           max(max_atoms, DATASETS[h.dataset].max_atoms)) for h in holdouts}
    held = [HeldOutSet.create(h, reads[h.name].ids, reads[h.name].arrays, ctx) for h in holdouts]
    excluded = dict.fromkeys(val.ids, VAL_ID_REASON)
    for s in held:
        for i in s.ids:
            excluded.setdefault(i, s.holdout.id_reason)

    parts, reports, masked = {}, {}, 0
    seen: set[str] = set()
    for src in inputs.train:
        table, parsed, _ = src.load(ctx)
        report = SkipReport()
        rows = select_rows(table, parsed, range(len(table)), (), max_atoms, report, seen=seen,
                           exclude=excluded)
        arrays = assemble(table, parsed, rows, {})
        if src.format == "mp_cgcnn":
            fe = arrays.targets[FE]
            low = fe < ctx.cfg.cgcnn_min_formation_energy
            masked += int(low.sum())
            arrays.targets[FE] = np.where(low, np.nan, fe)
        parts[src.label], reports[src.label] = arrays, report

    spacegroup_hits, computed = _formula_spacegroup_rule(parts, reports, held, ctx)
    matches = _structure_match_rule(parts, reports, held, ctx)

    totals = SkipReport()
    for rep in reports.values():
        totals.rows += rep.rows
        totals.kept += rep.kept
        totals.skipped.update(rep.skipped)
    union_meta = {
        "sources": {k: r.to_dict() for k, r in reports.items()},
        "totals": totals.to_dict(),
        "absent_sources": inputs.absent,
        "holdout": [h.name for h in holdouts],
        "spacegroups_computed": computed,
        "cgcnn_targets_masked": masked,
        "rule": rule_text(holdouts),
    }
    for s in held:
        key, found = s.holdout.key, matches[s.holdout.name]
        union_meta |= {
            key("held_out_ids"): sum(r == s.holdout.id_reason for r in excluded.values()),
            key("test_formula_spacegroup_pairs"): len(s.by_pair),
            key("test_spacegroups_computed"): s.spacegroups_computed,
            key("test_structure_match"): found.stats,
            key("near_duplicate_test_ids"): near_duplicate_test_ids(
                s.test, spacegroup_hits[s.holdout.name], found.tests_matched),
        }
    base = {
        "dataset": spec.name,
        "settings": settings,
        "sources": [entries[k] | {"label": k} for k in sorted(entries)],
        "source_paths": [str(s.path) for s in inputs.all()],
    }
    train = CrystalArrays.concatenate(list(parts.values()))
    results = [ctx.save(_with_meta(train, base | {"split": "train", "fingerprint": fps["train"],
                                                  "report": totals.to_dict(), "union": union_meta}),
                        spec.name, "train")]
    mp20_test = next(s for s in held if s.holdout.name == "mp_20_test")  # always held out
    test_cap = max(max_atoms, DATASETS["mp_20"].max_atoms)
    for split, arrays, report, cap in (
        ("val", val.arrays, val.report, max_atoms),
        ("test", mp20_test.test, reads["mp_20_test"].report, test_cap),
    ):
        meta = base | {"split": split, "fingerprint": fps[split], "report": report.to_dict(),
                       "union": {"rule": f"MP-20 {split} rows with <= {cap} atoms"}}
        results.append(ctx.save(_with_meta(arrays, meta), spec.name, split))
    return results


def _formula_spacegroup_rule(parts: dict[str, CrystalArrays], reports: dict[str, SkipReport],
                             held: list[HeldOutSet],
                             ctx: PrepareContext) -> tuple[dict[str, set[int]], int]:
    """Rule 4 on every part (replaced in ``parts``, each with its space groups as a target):
    the test entries of each held-out split whose pair a candidate shares, and how many
    candidate space groups were computed."""
    computed = 0
    hits: dict[str, set[int]] = {s.holdout.name: set() for s in held}
    for label, arrays in list(parts.items()):
        sg, n_new = fill_spacegroups(arrays, ctx)
        computed += n_new
        pairs = list(zip(formula_keys(arrays), sg.tolist(), strict=True))
        drops: dict[int, tuple[str, str]] = {}
        for s in held:
            drop, hit = s.formula_spacegroup_rule(pairs)
            hits[s.holdout.name].update(hit)
            reason = s.holdout.key("test_formula_spacegroup")
            for i in np.flatnonzero(drop).tolist():
                drops.setdefault(i, (reason, f"space group {int(sg[i])}" if np.isfinite(sg[i])
                                     else "space group unknown"))
        parts[label] = _drop_rows(_with_meta(arrays, dict(arrays.meta), {SG: sg}), reports[label],
                                  drops)
    return hits, computed


def _structure_match_rule(
    parts: dict[str, CrystalArrays], reports: dict[str, SkipReport], held: list[HeldOutSet],
    ctx: PrepareContext,
) -> dict[str, StructureMatches]:
    """Rule 5 on every part (replaced in ``parts``): each held-out split's matches."""
    matches = {s.holdout.name: match_test_structures(parts, s.test, ctx, s.holdout.title)
               for s in held}
    for label, arrays in list(parts.items()):
        drops: dict[int, tuple[str, str]] = {}
        for s in held:
            found = matches[s.holdout.name]
            index, rms = found.test_index[label], found.rms[label]
            reason = s.holdout.key("test_structure_match")
            for i in np.flatnonzero(index >= 0).tolist():
                drops.setdefault(i, (reason, f"matches test {s.test.ids[index[i]]} "
                                             f"(rms {rms[i]:.3f})"))
        parts[label] = _drop_rows(arrays, reports[label], drops)
    for s in held:
        stats = matches[s.holdout.name].stats
        log.info("MP union: %d cells match a %s structure (%d pairs compared)",
                 stats["cells_matched"], s.holdout.title, stats["pairs"])
    return matches


def _drop_rows(arrays: CrystalArrays, report: SkipReport,
               drops: dict[int, tuple[str, str]]) -> CrystalArrays:
    """``arrays`` without the rows in ``drops`` (row -> (reason, message)), each counted in
    ``report``."""
    for i, (reason, message) in drops.items():
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
