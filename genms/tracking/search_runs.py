"""The numbers of one ``genms generate`` run folder, for ``genms report gather``.

A finished run folder holds ``summary.json`` (outcome, counts, timings, the top structures),
``candidates.json`` (every structure with every check) and ``config.yaml``. :func:`run_metrics`
turns them into one row of metrics:

* formation energy (R_lo, eV/atom): ``best_e_form`` (rank 1), ``top_mean_e_form`` (the top
  structures written as CIFs), ``kept_mean_e_form`` (every kept structure);
* family match: ``match_rate_top``, the share of the top structures that ``fit_anonymous``
  matches to a reference structure of the requested family (only when the request names a
  family and references are available; see :mod:`genms.evaluate.family`);
* validity: ``structural_validity``, ``composition_validity`` (shares of all sampled structures)
  and ``kept_fraction`` (passed every filter);
* timings: ``time_total_s`` and ``time_<stage>_s`` per search stage;
* counts: ``n_candidates``, ``n_kept``, ``n_formulae_expanded``.

:func:`run_params` gives the settings (request, seed and every ``config.yaml`` value) so that
the rows of several runs can be told apart by the keys whose values differ.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from genms.benchmarks import families
from genms.crystal.convert import from_cif
from genms.evaluate.family import family_match_many
from genms.evaluate.matching import MatchConfig
from genms.language.request import parse_request
from genms.tracking.reports import flatten

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
#: Metric columns in the order a comparison shows them (the most telling first).
METRIC_ORDER = (
    "best_e_form",
    "top_mean_e_form",
    "kept_mean_e_form",
    "match_rate_top",
    "structural_validity",
    "composition_validity",
    "kept_fraction",
    "time_total_s",
)


def is_search_summary(obj: Any) -> bool:
    """A ``summary.json`` written by ``genms generate`` (or the Python API with ``out_dir``)."""
    return isinstance(obj, dict) and {"request", "status", "status_counts", "timings_s"} <= set(obj)


def load_summary(path: Path) -> dict | None:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return obj if is_search_summary(obj) else None


def _finite(values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _mean(values) -> float | None:
    values = _finite(values)
    return sum(values) / len(values) if values else None


def _candidates(run_dir: Path) -> list[dict]:
    try:
        records = json.loads((run_dir / "candidates.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def run_metrics(summary: dict, run_dir: Path | None = None, match: bool = True) -> dict[str, Any]:
    """Metrics of one finished search (``run_dir``: its folder, for ``candidates.json`` and the
    CIFs)."""
    counts = {str(k): int(v) for k, v in (summary.get("status_counts") or {}).items()}
    n = int(summary.get("n_candidates") or sum(counts.values()))
    top = [t for t in summary.get("top") or [] if isinstance(t, dict)]
    top_e = _finite(t.get("e_form_ev_per_atom") for t in top)
    records = _candidates(run_dir) if run_dir is not None else []
    kept = [r for r in records if r.get("status") == "kept"]
    out: dict[str, Any] = {
        "best_e_form": top_e[0] if top_e else None,
        "top_mean_e_form": _mean(top_e),
        "kept_mean_e_form": _mean(r.get("e_form_ev_per_atom") for r in kept),
        "match_rate_top": None,
        "structural_validity": None,
        "composition_validity": None,
        "kept_fraction": counts.get("kept", 0) / n if n else None,
        "n_candidates": n,
        "n_kept": counts.get("kept", 0),
        "n_formulae_expanded": summary.get("n_expanded"),
    }
    if records:
        out["structural_validity"] = _mean(float(bool(r.get("structural_valid"))) for r in records)
        out["composition_validity"] = _mean(
            float(r.get("composition_valid") is True) for r in records
        )
    elif n:
        out["structural_validity"] = 1.0 - counts.get("invalid_structure", 0) / n
    timings = {
        str(k): float(v)
        for k, v in (summary.get("timings_s") or {}).items()
        if isinstance(v, (int, float))
    }
    out["time_total_s"] = sum(timings.values()) if timings else None
    out.update({f"time_{k}_s": v for k, v in timings.items()})
    if match and run_dir is not None and top:
        out["match_rate_top"] = family_match_rate(summary, run_dir, top)
    return out


def _family(summary: dict) -> str | None:
    try:
        return parse_request(str(summary["request"])).family
    except Exception:  # an unparsable request names no family
        return None


def family_match_rate(summary: dict, run_dir: Path, top: list[dict]) -> float | None:
    """Share of the top structures (their CIFs) matching the requested family's references."""
    family = _family(summary)
    if not family:
        return None
    cifs = [run_dir / t["cif"] for t in top if t.get("cif") and (run_dir / t["cif"]).is_file()]
    if not cifs:
        return None
    try:
        refs = families.family_references(family, distinct=True)
        if refs.references is None:
            return None
        crystals = [from_cif(p.read_text()) for p in cifs]
        matches = family_match_many(
            crystals, refs.references, MatchConfig(), n_workers=1, progress=False
        )
    except Exception as exc:  # no data to build references from, an unreadable CIF: no match number
        log.warning("%s: family match not computed (%s: %s)", run_dir, type(exc).__name__, exc)
        return None
    return sum(bool(m.matched) for m in matches) / len(matches)


def run_params(summary: dict, run_dir: Path | None) -> dict[str, Any]:
    """The run's settings: request, seed and the flattened ``config.yaml`` (when there is one)."""
    params: dict[str, Any] = {}
    if run_dir is not None and (run_dir / "config.yaml").is_file():
        try:
            config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=False)
            params.update(
                {
                    k: v
                    for k, v in flatten(config).items()
                    if k not in ("out_dir", "resume", "report")
                }
            )
        except Exception as exc:  # an unreadable config: the request and seed still tell runs apart
            log.warning("%s: config.yaml not read (%s)", run_dir, exc)
    params["request"] = summary.get("request")
    params["seed"] = summary.get("seed")
    return params
