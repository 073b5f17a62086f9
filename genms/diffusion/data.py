"""Where π_lo's crystals come from: prepared ``.npz`` arrays or, for small runs, a CDVAE CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genms.crystal.structure import Crystal
from genms.data.arrays import CrystalArrays
from genms.data.parse import parse_cif
from genms.data.prepare import load_prepared


def arrays_from_csv(
    path: str | Path, limit: int | None = None, niggli: bool = True, targets: tuple[str, ...] = ()
) -> CrystalArrays:
    """Parse a CDVAE-format CSV (a ``cif`` column) into arrays, reduced as ``genms data
    prepare`` does.

    ``targets``: columns kept as per-crystal targets (rows where one is missing are skipped).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV {path} not found")
    table = pd.read_csv(path)
    missing = [c for c in ("cif", *targets) if c not in table.columns]
    if missing:
        raise ValueError(f"{path} has no {missing} column (columns: {list(table.columns)})")
    if limit is not None:
        table = table.iloc[:limit]
    crystals, ids = [], []
    for i, text in enumerate(table["cif"].tolist()):
        out = parse_cif(text, niggli=niggli)
        values = {t: float(table[t].iloc[i]) for t in targets}
        if out[0] != "ok" or any(not np.isfinite(v) for v in values.values()):
            continue
        _, frac, numbers, lattice = out
        crystals.append(Crystal(frac, numbers, lattice, values))
        ids.append(str(table["material_id"].iloc[i]) if "material_id" in table.columns else str(i))
    if not crystals:
        raise ValueError(f"no parsable CIF in {path}")
    return CrystalArrays.from_crystals(
        crystals, ids, list(targets), meta={"source": str(path), "n": len(crystals)}
    )


def load_split(dataset: str, split: str, cache_dir: str | None, csv: str | None = None,
               limit: int | None = None) -> CrystalArrays:
    """A CSV when given, else the prepared arrays of ``dataset``/``split`` (first ``limit``
    rows)."""
    if csv:
        return arrays_from_csv(csv, limit)
    arrays = load_prepared(dataset, split, cache_dir)
    if limit is not None and limit < len(arrays):
        arrays = arrays.subset(np.arange(limit))
    return arrays
