"""Summaries of validation records: the benchmark JSON fields and the printed table.

:func:`summarize` gives ``n_structures``, ``converged_fraction`` (DFT finished with an
energy and converged SCF/relaxation), mean formation energies (DFT, DFT + MP2020 anion
corrections, GNN, CHGNet), the GNN/CHGNet-vs-DFT mean absolute errors over the structures
that have both, and wall time per structure. Known-compound records add the MP comparison.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def _vals(records: Sequence[dict], key: str) -> list[float]:
    return [
        float(r[key]) for r in records if r.get(key) is not None and math.isfinite(float(r[key]))
    ]


def _mean(xs: list[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def _mae(records: Sequence[dict], a: str, b: str) -> tuple[float | None, int]:
    pairs = [
        (float(r[a]), float(r[b])) for r in records if r.get(a) is not None and r.get(b) is not None
    ]
    if not pairs:
        return None, 0
    x = np.array(pairs)
    return float(np.mean(np.abs(x[:, 0] - x[:, 1]))), len(pairs)


def summarize(records: Sequence[dict]) -> dict:
    """Aggregate numbers over ``records`` (skipped structures excluded from the fractions)."""
    considered = [r for r in records if r.get("status") != "skipped"]
    n = len(considered)
    converged = [
        r for r in considered if r.get("status") == "ok" and r.get("e_form_dft") is not None
    ]
    mae_gnn, n_gnn = _mae(considered, "e_form_gnn", "e_form_dft")
    mae_mlip, n_mlip = _mae(considered, "e_form_mlip", "e_form_dft")
    mae_gnn_corr, _ = _mae(considered, "e_form_gnn", "e_form_dft_anion_corrected")
    mae_mlip_corr, _ = _mae(considered, "e_form_mlip", "e_form_dft_anion_corrected")
    walls = _vals(considered, "wall_s")
    dft_walls = [
        float(r["dft"]["wall_s"])
        for r in considered
        if r.get("dft") and r["dft"].get("wall_s") is not None
    ]
    mlip_walls = [float(r["mlip"]["wall_s"]) for r in considered
                  if r.get("mlip") and r["mlip"].get("wall_s") is not None]
    return {
        "n_structures": n,
        "n_skipped": len(records) - n,
        "status_counts": dict(Counter(r.get("status") for r in records)),
        "converged_fraction": (len(converged) / n) if n else None,
        "mean_e_form_dft": _mean(_vals(considered, "e_form_dft")),
        "mean_e_form_dft_anion_corrected": _mean(_vals(considered, "e_form_dft_anion_corrected")),
        "mean_e_form_gnn": _mean(_vals(considered, "e_form_gnn")),
        "mean_e_form_mlip": _mean(_vals(considered, "e_form_mlip")),
        "mae_gnn_vs_dft": mae_gnn,
        "mae_gnn_vs_dft_anion_corrected": mae_gnn_corr,
        "n_gnn_vs_dft": n_gnn,
        "mae_mlip_vs_dft": mae_mlip,
        "mae_mlip_vs_dft_anion_corrected": mae_mlip_corr,
        "n_mlip_vs_dft": n_mlip,
        "wall_seconds_per_structure": _mean(walls),
        "dft_seconds_per_structure": _mean(dft_walls),
        "mlip_seconds_per_structure": _mean(mlip_walls),
        "wall_seconds_total": float(np.sum(walls)) if walls else 0.0,
    }


def per_structure_rows(records: Sequence[dict]) -> list[dict]:
    """Compact per-structure rows for the JSON and the printed table."""
    rows = []
    for r in records:
        dft = r.get("dft") or {}
        mlip = r.get("mlip") or {}
        rows.append(
            {
                "id": r.get("id"),
                "formula": r.get("formula"),
                "family": r.get("family"),
                "n_atoms": r.get("n_atoms"),
                "status": r.get("status"),
                "error": r.get("error"),
                "e_form_gnn": r.get("e_form_gnn"),
                "e_form_mlip": r.get("e_form_mlip"),
                "e_form_dft": r.get("e_form_dft"),
                "e_form_dft_anion_corrected": r.get("e_form_dft_anion_corrected"),
                "e_form_mp": r.get("e_form_mp"),
                "mp_id": r.get("mp_id"),
                "mlip_steps": mlip.get("steps"),
                "mlip_displacement_max_ang": mlip.get("displacement_max_ang"),
                "mlip_volume_change": mlip.get("volume_change"),
                "dft_kpts": dft.get("kpts"),
                "dft_spinpol": dft.get("spinpol"),
                "dft_magmom": dft.get("magmom"),
                "dft_scf_iterations": dft.get("scf_iterations"),
                "dft_ionic_steps": dft.get("ionic_steps"),
                "dft_max_force": dft.get("max_force"),
                "wall_s": r.get("wall_s"),
                "dft_wall_s": dft.get("wall_s"),
                "mlip_wall_s": mlip.get("wall_s"),
            }
        )
    return rows


def fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def table_lines(records: Sequence[dict], with_mp: bool = False) -> list[list[str]]:
    """Header + one row per structure (strings), for rich or markdown tables."""
    head = [
        "id",
        "formula",
        "atoms",
        "status",
        "E_f GNN",
        "E_f CHGNet",
        "E_f DFT",
        "DFT+anion corr.",
    ]
    if with_mp:
        head.append("E_f MP")
    head += ["DFT s", "total s"]
    rows = [head]
    for r in per_structure_rows(records):
        row = [
            str(r["id"]),
            str(r["formula"]),
            str(r["n_atoms"]),
            str(r["status"]),
            fmt(r["e_form_gnn"]),
            fmt(r["e_form_mlip"]),
            fmt(r["e_form_dft"]),
            fmt(r["e_form_dft_anion_corrected"]),
        ]
        if with_mp:
            row.append(fmt(r["e_form_mp"]))
        row += [fmt(r["dft_wall_s"], 1), fmt(r["wall_s"], 1)]
        rows.append(row)
    return rows
