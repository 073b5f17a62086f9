"""``genms data prepare``'s entry points: one dataset, or every dataset, by the kind of its
sources.

A CSV per split, a CSV split at random and a folder of CIFs are prepared by
:mod:`genms.data.prepare`; the MP training union by :mod:`genms.data.union`, which builds on
:mod:`genms.data.prepare` (so the choice between them lives here, above both).
"""

from __future__ import annotations

import logging

from genms.data.prepare import (
    PrepareContext,
    SplitResult,
    prepare_cif_dir,
    prepare_csv,
    prepare_random_split,
)
from genms.data.sources import DATASETS, DataSourceError, get_spec
from genms.data.union import prepare_union

log = logging.getLogger(__name__)


def prepare_dataset(name: str, ctx: PrepareContext) -> list[SplitResult]:
    """The prepared splits of dataset ``name`` (built, or found in the cache)."""
    spec = get_spec(name)
    if spec.kind == "csv":
        return prepare_csv(spec, ctx)
    if spec.kind == "random_split":
        return prepare_random_split(spec, ctx)
    if spec.kind == "cif_dir":
        return prepare_cif_dir(spec, ctx)
    return prepare_union(spec, ctx)


def prepare_all(ctx: PrepareContext) -> tuple[list[SplitResult], dict[str, str]]:
    """Every dataset whose sources exist (``cif_dir`` only when ``data.cif_dir`` is set).

    Returns the results and, per dataset that could not be prepared, the reason.
    """
    results: list[SplitResult] = []
    unavailable: dict[str, str] = {}
    for name, spec in DATASETS.items():
        if spec.kind == "cif_dir" and not ctx.cfg.cif_dir:
            continue
        try:
            results.extend(prepare_dataset(name, ctx))
        except DataSourceError as exc:
            unavailable[name] = str(exc)
            log.warning("%s: %s", name, exc)
    return results, unavailable
