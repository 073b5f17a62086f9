"""Reference structures of a crystal family, for the end-to-end match rate.

``source="prototypes"`` (the default): the clean prototype list shipped in
``genms/assets/family_prototypes.json.gz`` (rule: :mod:`genms.evaluate.family_prototypes`;
builder: ``scripts/build_family_prototypes.py``), with its coordination check after every
``fit_anonymous`` success. Families outside that list, and ``source="datasets"``, use the older
selection below, which a space group alone can fool (nitrates and borates as "perovskites").

The paper matches generated structures against Materials Project entries "likely to belong to
each family based on formula and space group". Here: the compounds of our MP datasets
(``mp_20``, ``mp_cgcnn``, ``mpts_52``) whose atom ratio is one of the family's
(:func:`genms.language.retrieval.family_examples`) and whose space group is one of the family's.
Structures come from the prepared arrays when they exist, else from the dataset CSVs; a space
group the dataset does not record is computed with spglib (``symprec`` 0.1). The selected set is
cached as a ``.npz`` under ``{cache_dir}/search/``.

``distinct=True`` keeps one representative per anonymous prototype: a reference that
``fit_anonymous`` already matches to an earlier kept one adds nothing to "matches at least one
reference" (up to the matcher's tolerances not being transitive), and dropping it makes the match
rate of non-matching structures — which compare against every candidate reference — an order of
magnitude cheaper. The representatives are cached too.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import spglib

from genms.crystal.composition import composition_from_numbers
from genms.crystal.convert import CIFParseError, from_cif, to_pymatgen
from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.data.known import MP_DATASETS, load_known
from genms.data.prepare import DataNotPreparedError, load_prepared
from genms.data.sources import (
    FORMATS,
    DataSourceError,
    data_roots,
    get_spec,
    locate,
    read_csv_table,
)
from genms.evaluate.family import FamilyReferences, anonymous_formula_key, reduce_for_matching
from genms.evaluate.family_prototypes import SHIPPED_PATH as PROTOTYPES_PATH
from genms.evaluate.family_prototypes import load_prototypes, prototype_references
from genms.evaluate.matching import PairTimeout, structure_matcher, time_limit
from genms.language.families import get_family
from genms.language.retrieval import family_examples
from genms.paths import PathsConfig, resolve_cache_dir

log = logging.getLogger(__name__)

SYMPREC = 0.1
_CACHE_VERSION = 1


@dataclass(frozen=True)
class FamilyRefs:
    family: str
    references: Any  # genms.evaluate.family.FamilyReferences, or None when no structure was found
    n: int
    n_formulae: int
    space_groups: tuple[int, ...]
    origin: str
    n_selected: int = 0  # references before keeping distinct prototypes


def _spread(items: list, n: int | None) -> list:
    if n is None or len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _from_prepared(dataset: str, ids: set[str], cache_dir: Any) -> dict[str, Crystal] | None:
    found: dict[str, Crystal] = {}
    try:
        for split in get_spec(dataset).split_names:
            arr = load_prepared(dataset, split, None if cache_dir == "auto" else cache_dir)
            for i, mid in enumerate(arr.ids.astype(str)):
                if mid in ids and mid not in found:
                    found[mid] = arr.crystal(i)
    except DataNotPreparedError:
        return None
    return found


def _from_sources(dataset: str, ids: set[str], data_dir: Any) -> dict[str, Crystal]:
    spec = get_spec(dataset)
    found: dict[str, Crystal] = {}
    try:
        _, files = locate(spec, data_roots(data_dir))
    except DataSourceError as exc:
        log.info("family references: %s", exc)
        return found
    for path in dict.fromkeys(files.values()):
        table = read_csv_table(path, FORMATS[spec.format], dataset)
        for mid, cif in zip(table.ids, table.cifs, strict=True):
            if mid in ids and mid not in found:
                try:
                    found[mid] = from_cif(cif)
                except CIFParseError as exc:
                    log.debug("reference %s skipped: %s", mid, exc)
    return found


def _space_group(crystal: Crystal) -> int:
    data = spglib.get_symmetry_dataset(
        (crystal.lattice, crystal.frac_coords, crystal.atomic_numbers), symprec=SYMPREC
    )
    return int(data.number) if data is not None else 0


def _select(
    family: str, datasets: tuple[str, ...], data_dir: Any, cache_dir: Any
) -> tuple[list, list, str]:
    """(crystals, names, origin) of the family's members in ``datasets``."""
    fam = get_family(family)
    groups = set(fam.space_groups)
    known = load_known(datasets, "auto", data_dir, cache_dir)
    rows = family_examples(fam, known, by_spacegroup=False, check_sites=False)
    by_dataset: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.spacegroup == 0 or r.spacegroup in groups:  # 0: unknown, computed below
            by_dataset.setdefault(r.dataset, {})[r.material_id] = r.spacegroup
    crystals, names = [], []
    for dataset, wanted in by_dataset.items():
        found = _from_prepared(dataset, set(wanted), cache_dir)
        if found is None:
            found = _from_sources(dataset, set(wanted), data_dir)
        for mid in sorted(found):
            sg = wanted[mid] or _space_group(found[mid])
            if sg in groups:
                crystals.append(found[mid])
                names.append(f"{dataset}:{mid}")
    return crystals, names, str(known.origin)


def distinct_prototypes(crystals: list[Crystal], timeout_s: float = 30.0) -> list[int]:
    """Indices of the references no earlier kept reference matches with ``fit_anonymous``."""
    matcher = structure_matcher()
    kept: dict[tuple, list] = {}
    out = []
    for i, crystal in enumerate(crystals):
        reduced = reduce_for_matching(to_pymatgen(crystal))
        group = kept.setdefault((anonymous_formula_key(reduced), len(reduced)), [])
        duplicate = False
        for other in group:
            try:
                with time_limit(timeout_s):
                    duplicate = matcher.fit_anonymous(reduced, other, skip_structure_reduction=True)
            except PairTimeout:
                duplicate = False
            if duplicate:
                break
        if not duplicate:
            group.append(reduced)
            out.append(i)
    return out


def family_references(
    family: str,
    paths: PathsConfig | None = None,
    max_references: int | None = None,
    datasets: tuple[str, ...] | None = None,
    distinct: bool = False,
    source: str = "prototypes",
) -> FamilyRefs:
    """The family's reference set (``references`` is None when none could be loaded)."""
    if source not in ("prototypes", "datasets"):
        raise ValueError(f"references must be prototypes or datasets (got {source!r})")
    if source == "prototypes":
        fam = get_family(family)
        refs = prototype_references(fam.name)
        if refs is not None:
            shipped = load_prototypes()["families"][fam.name]
            groups = sorted({g for p in shipped["prototypes"] for g in p["space_groups"]})
            formulae = {e["formula"] for e in shipped["entries"]}
            return FamilyRefs(fam.name, refs, len(refs), len(formulae), tuple(groups),
                              f"prototypes {PROTOTYPES_PATH.name}", len(shipped["entries"]))
    paths = paths or PathsConfig()
    data_dir, cache_dir = paths.data_dir, paths.cache_dir
    datasets = tuple(datasets or MP_DATASETS)
    fam = get_family(family)
    key = hashlib.sha256(repr((_CACHE_VERSION, fam.name, fam.ratios, fam.space_groups, datasets,
                               str(data_dir), SYMPREC)).encode()).hexdigest()[:16]
    cache = (
        resolve_cache_dir(None if cache_dir == "auto" else cache_dir)
        / "search"
        / f"refs-{fam.name}-{key}.npz"
    )
    if cache.is_file():
        arrays = CrystalArrays.load(cache)
        crystals, names, origin = arrays.crystals(), [str(i) for i in arrays.ids], f"cache {cache}"
    else:
        crystals, names, origin = _select(fam.name, datasets, data_dir, cache_dir)
        if crystals:
            try:
                CrystalArrays.from_crystals(crystals, names).save(cache)
            except OSError as exc:
                log.warning("could not cache the %s references at %s: %s", fam.name, cache, exc)
    order = _spread(sorted(range(len(names)), key=lambda i: names[i]), max_references)
    crystals, names = [crystals[i] for i in order], [names[i] for i in order]
    n_all = len(crystals)
    if distinct and crystals:
        protos = cache.with_name(cache.stem + f"-distinct-{max_references}.npz")
        if protos.is_file():
            arrays = CrystalArrays.load(protos)
            crystals, names = arrays.crystals(), [str(i) for i in arrays.ids]
        else:
            keep = distinct_prototypes(crystals)
            crystals, names = [crystals[i] for i in keep], [names[i] for i in keep]
            try:
                CrystalArrays.from_crystals(crystals, names).save(protos)
            except OSError as exc:
                log.warning("could not cache the %s prototypes at %s: %s", fam.name, protos, exc)
        log.info("%s: %d distinct prototypes among %d references", fam.name, len(crystals), n_all)
    if not crystals:
        log.warning(
            "no reference structures for %s (known compounds from %s); match_rate is not computed",
            family,
            origin,
        )
        return FamilyRefs(fam.name, None, 0, 0, tuple(fam.space_groups), origin)

    n_formulae = len({composition_from_numbers(c.atomic_numbers).reduced_formula for c in crystals})
    return FamilyRefs(fam.name, FamilyReferences(crystals, names), len(crystals), n_formulae,
                      tuple(fam.space_groups), origin, n_all)
